"""Add a GB/T 38540 seal to an OFD document (DESIGN §5; GB/T 33190 §18).

Order matters, because the References must describe the final package:
1. refuse a locked document; check the seal may be used by this signer now;
2. decide every new or changed part (OFD.xml link, Signatures.xml entry, Seal.esl);
3. in one pass, write every entry of the output (unchanged ones as their raw compressed bytes, to `out` as
   they go) and hash it — all but our own Signature.xml / SignedValue.dat (and Signatures.xml unless locking);
4. write Signature.xml, sign SM3(its exact bytes) into a V4 SES_Signature, and append both.
"""

from __future__ import annotations

import base64
import posixpath
from datetime import UTC, datetime
from typing import BinaryIO

from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, SM3Hasher, sm3
from formats.ofd import (
    DEFAULT_PACKAGE_LIMITS,
    OfdPackage,
    PackageLimits,
    load_document,
    read_signature_list,
    read_signature_xml,
)
from formats.ofd.locs import folder
from formats.ofd.package import fold_name, name_readings
from formats.ofd.writer import PackageWriter
from formats.ses import check_seal_usable, parse_seal, parse_signature
from formats.ses.build import SIGNATURE_OIDS, build_signature_v4, with_timestamp_v4
from stamping.ofd.placement import resolve_placements
from stamping.ofd.sigxml import (
    IdAllocator,
    build_signature_xml,
    link_signatures,
    namespace_of,
    signatures_xml_add,
    signatures_xml_new,
)
from stamping.options import StampOptions, StampResult
from stamping.placement import Placement
from stamping.signer import Signer


def _locked_by(pkg: OfdPackage, signatures_path: str) -> tuple[list[str], str | None]:
    """IDs already used, and the first existing signature that protects Signatures.xml (if any)."""
    entries, max_id = read_signature_list(pkg, signatures_path)
    seen = [max_id] + [e.id for e in entries]
    for entry in entries:
        if not pkg.exists(entry.path):
            continue
        sig = read_signature_xml(pkg, entry.path)
        seen += [a.id for a in sig.stamp_annots]
        if any(r.path.lower() == signatures_path.lower() for r in sig.references):
            return seen, entry.id or entry.path
    return seen, None


def _taken_names(pkg: OfdPackage) -> set[str]:
    """Every entry name and every folder holding one, as the package reader compares names (case ignored,
    "\\" read as "/"): a part we add must match none, or our own output would not open in our verifier.
    A name stored without the UTF-8 flag counts under each reading readers give it (zipfile's cp437, UTF-8,
    GBK), so no new entry has the same bytes as an old one under another reading."""
    taken: set[str] = set()
    for name, entry in pkg.entries.items():
        for reading in {name, *name_readings(entry.info, pkg.zip.metadata_encoding)}:
            parts = fold_name(reading).split("/")
            taken.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return taken


def _is_free(path: str, taken: set[str]) -> bool:
    return fold_name(path.lstrip("/")) not in taken


def _free_file(path: str, taken: set[str]) -> str:
    """`path`, or the first of path_2, path_3… (same folder and extension) that no entry takes (there are
    finitely many, so this ends)."""
    stem, ext = posixpath.splitext(path)
    k = 1
    while not _is_free(path, taken):
        k += 1
        path = f"{stem}_{k}{ext}"
    return path


def _next_sign_folder(signs_dir: str, taken: set[str]) -> str:
    """The first Sign_k folder that neither holds an entry nor is itself an entry's name: every file we put
    in it is then free too."""
    k = 0
    while not _is_free(f"{signs_dir}/Sign_{k}", taken):
        k += 1
    return f"{signs_dir}/Sign_{k}"


def stamp(
    data: bytes,
    out: BinaryIO,
    signer: Signer,
    seal: bytes,
    placements: list[Placement],
    options: StampOptions | None = None,
    *,
    limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
) -> StampResult:
    options = options or StampOptions()
    signed_at = (options.signed_at or datetime.now(UTC)).astimezone(UTC)
    pkg = OfdPackage(data, limits)
    # The parts parsed below (OFD.xml, Document.xml, pages, earlier Signature.xml) are hashed from those
    # bytes for the References, so the copy pass does not inflate them again.
    pkg.hash_when_read({name: {"sm3": SM3Hasher} for name in pkg.files()})
    doc = load_document(pkg)

    seal_obj = parse_seal(seal)
    if seal_obj.version == 1:
        raise SealBridgeError(
            "SEAL_VERSION_UNSUPPORTED", "a V1 (GM/T 0031-2014) seal cannot make a V4 signature"
        )
    check_seal_usable(seal_obj, signer.certificate, signed_at)
    width, height = float(seal_obj.picture.width_mm), float(seal_obj.picture.height_mm)
    if not (0 < width <= 500 and 0 < height <= 500):
        raise SealBridgeError("SEAL_INVALID", f"seal picture size {width}×{height} mm is not usable")
    annots = resolve_placements(pkg, doc, placements, width, height)

    ofd_root = pkg.xml("OFD.xml")
    ns = namespace_of(ofd_root)  # old files use http://www.ofdspec.org; our new parts follow the document
    changed: dict[str, bytes] = {}  # zip name -> new bytes (replacing an entry)
    added: dict[str, bytes] = {}  # zip name -> bytes of a new entry
    seen_ids: list[str] = []
    sig_list_root = None
    taken = _taken_names(pkg)
    if doc.signatures_path and pkg.exists(doc.signatures_path):
        signatures_path = doc.signatures_path
        seen_ids, locker = _locked_by(pkg, signatures_path)
        if locker is not None:
            raise SealBridgeError("DOC_LOCKED", f"document locked by seal {locker}")
        sig_list_root = pkg.xml(signatures_path)
        ns = namespace_of(sig_list_root)  # match the signatures already there
    else:
        # A part of that name the document does not link (a leftover Signatures.xml, or one differing only in
        # case or separators) stays as it is, covered like any other file; ours takes a free name.
        signatures_path = _free_file(
            doc.signatures_path or posixpath.join(folder(doc.root_path), "Signs", "Signatures.xml"), taken
        )
        taken.add(fold_name(signatures_path.lstrip("/")))
    signs_dir = folder(signatures_path)
    sign_dir = _next_sign_folder(signs_dir, taken)
    sig_xml_path = f"{sign_dir}/Signature.xml"
    value_path = f"{sign_dir}/SignedValue.dat"
    seal_path = f"{sign_dir}/Seal.esl"

    ids = IdAllocator(seen_ids)
    sign_id = ids.take()
    annot_ids = [(ids.take(), a) for a in annots]
    max_id = annot_ids[-1][0] if annot_ids else sign_id

    if sig_list_root is not None:
        signatures_name = pkg.find(signatures_path) or signatures_path.lstrip("/")
        changed[signatures_name] = signatures_xml_add(sig_list_root, sign_id, max_id, sig_xml_path)
    else:
        signatures_name = signatures_path.lstrip("/")
        added[signatures_name] = signatures_xml_new(sign_id, sig_xml_path, ns)
        if signatures_path != doc.signatures_path:
            changed[pkg.find("OFD.xml") or "OFD.xml"] = link_signatures(ofd_root, doc.index, signatures_path)
    added[seal_path.lstrip("/")] = seal_obj.der

    # One pass: every entry is written (unchanged ones as their compressed bytes) and hashed as it goes;
    # the new Signature.xml, which names those digests, and its SignedValue.dat come last.
    writer = PackageWriter(out)
    references = _write_and_hash(pkg, writer, changed, added, signatures_name, options)
    sig_xml = build_signature_xml(
        references=references,
        annots=annot_ids,
        seal_path=seal_path,
        signed_value_path=value_path,
        signed_at=signed_at,
        producer=options.producer,
        method=SIGNATURE_OIDS.get(signer.algorithm, OID_SM2_SM3),
        ns=ns,
    )
    signed_value = build_signature_v4(
        seal_der=seal_obj.der,
        data_hash=sm3(sig_xml),
        property_info=sig_xml_path,
        signer=signer,
        signed_at=signed_at,
    )
    if options.timestamper is not None:
        # GB/T 38540 §6: the token's imprint is SM3 of the signature value (the BIT STRING's contents).
        covered = parse_signature(signed_value).signature
        token = options.timestamper.timestamp(sm3(covered), "sm3")
        signed_value = with_timestamp_v4(signed_value, token)
    writer.add(sig_xml_path.lstrip("/"), sig_xml)
    writer.add(value_path.lstrip("/"), signed_value, compress=False)
    writer.close()
    if options.progress:
        options.progress(1.0)
    return StampResult(
        format="ofd",
        signature_ids=[posixpath.basename(sign_dir)],
        pages=sorted({a.page.index + 1 for a in annots}),
        boxes=[(a.page.index + 1, *a.boundary) for a in annots],
    )


def _write_and_hash(
    pkg: OfdPackage,
    writer: PackageWriter,
    changed: dict[str, bytes],
    added: dict[str, bytes],
    signatures_name: str,
    options: StampOptions,
) -> list[tuple[str, str]]:
    """Write every entry of the input (changed ones replaced) and the `added` ones, and return the References:
    SM3 of every file written except Signatures.xml unless locking (our Signature.xml and SignedValue.dat
    are not written yet). An unchanged entry is copied as its compressed bytes and hashed from those same
    bytes as they pass."""
    skip = set() if options.lock else {signatures_name}
    total = sum(e.size for e in pkg.entries.values()) or 1
    done = 0
    out: list[tuple[str, str]] = []
    for name, entry in pkg.entries.items():
        wanted = not name.endswith("/") and name not in skip
        if name in changed:
            writer.replace(pkg, name, changed[name])
            digest = sm3(changed[name]) if wanted else b""
        elif name in pkg.read_digests:
            writer.copy_raw(pkg, name)
            digest = pkg.read_digests[name]["sm3"]
        else:
            hasher = SM3Hasher()
            writer.copy_raw(pkg, name, [hasher] if wanted else [])
            digest = hasher.digest()
        if wanted:
            out.append(("/" + name, base64.b64encode(digest).decode("ascii")))
        done += entry.size
        if options.progress:
            options.progress(0.95 * done / total)
    for name, content in added.items():
        writer.add(name, content, compress=not name.endswith((".esl", ".dat")))
        if name not in skip:
            out.append(("/" + name, base64.b64encode(sm3(content)).decode("ascii")))
    return out
