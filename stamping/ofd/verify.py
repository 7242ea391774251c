"""Verify every signature of an OFD document (DESIGN §6, research/standards.md §4.4).

Each signature is checked independently and reported check by check; a damaged signature becomes a
failed seal in the report, never an exception. Only a package that cannot be read at all raises.
"""

from __future__ import annotations

from datetime import UTC, datetime

from formats.errors import SealBridgeError
from formats.ofd import (
    DEFAULT_PACKAGE_LIMITS,
    OfdPackage,
    PackageLimits,
    SignatureEntry,
    SignatureXml,
    load_document,
    read_signature_list,
    read_signature_xml,
)
from formats.ofd.document import doc_bodies
from formats.ofd.locs import resolve
from formats.ofd.xmlsafe import child_text
from formats.ses.parse import MAX_SES_BYTES
from stamping.ofd.certcheck import check_certificate, signer_info
from stamping.ofd.coverage import changes_after, check_references
from stamping.ofd.signedvalue import SignedValueResult, check_signed_value
from stamping.ofd.sigtime import parse_signature_datetime
from stamping.ofd.timestamp import check_timestamp
from stamping.options import VerifyOptions
from stamping.report import Check, Report, SealReport
from stamping.sealchecks import platform_check, seal_check, signer_in_seal_check
from stamping.sealview import picture_note, seal_info

MAX_SIGNATURES = 512  # far beyond any real document; bounds the work a hostile file can ask for


def _folder_name(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[-2] if len(parts) >= 2 else path


def verify(
    data: bytes, options: VerifyOptions | None = None, *, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS
) -> Report:
    options = options or VerifyOptions()
    now = options.now or datetime.now(UTC)
    pkg = OfdPackage(data, limits)
    # The signatures are found from OFD.xml alone: a signed document whose Document.xml was deleted or
    # damaged must still be reported (as tampered), not rejected.
    _, bodies = doc_bodies(pkg)
    sig_loc = child_text(bodies[0], "Signatures")
    signatures_path = resolve(sig_loc, "/OFD.xml") if sig_loc else None
    report = Report(format="ofd")
    try:
        report.extra["pages"] = len(load_document(pkg).pages)
    except SealBridgeError as err:
        if not signatures_path:
            raise
        report.extra["document_error"] = f"{err.code}: {err.detail}"
    if not signatures_path:
        return report
    if not pkg.exists(signatures_path):
        report.extra["warning"] = f"OFD.xml names {signatures_path}, which is missing"
        return report
    entries, _ = read_signature_list(pkg, signatures_path)
    if len(entries) > MAX_SIGNATURES:
        raise SealBridgeError("DOC_TOO_LARGE", f"{len(entries)} signatures; the limit is {MAX_SIGNATURES}")
    sigs: list[SignatureXml | None] = []
    errors: list[SealBridgeError | None] = []
    for entry in entries:
        try:
            sigs.append(read_signature_xml(pkg, entry.path))
            errors.append(None)
        except SealBridgeError as err:
            sigs.append(None)
            errors.append(err)
    digests: dict[tuple[str, str], bytes] = {}
    listed: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.path.lower() in listed:
            # The same Signature.xml listed again (under another ID) is one seal, not two.
            report.seals.append(_listed_twice(entry))
            continue
        listed.add(entry.path.lower())
        report.seals.append(
            _verify_one(pkg, signatures_path, i, entry, sigs, errors[i], options, now, digests)
        )
    report.extra["locked"] = any(
        s is not None and any(r.path.lower() == signatures_path.lower() for r in s.references) for s in sigs
    )
    return report


def _listed_twice(entry: SignatureEntry) -> SealReport:
    rep = SealReport(id=_folder_name(entry.path), type="sign" if entry.type.lower() == "sign" else "seal")
    rep.extra = {"signature_id": entry.id, "path": entry.path}
    detail = f"{entry.path} is listed more than once in Signatures.xml"
    for name in ("integrity", "signature"):
        rep.checks[name] = Check.failed(detail)
    return rep


def _verify_one(
    pkg: OfdPackage,
    signatures_path: str,
    index: int,
    entry: SignatureEntry,
    sigs: list[SignatureXml | None],
    error: SealBridgeError | None,
    options: VerifyOptions,
    now: datetime,
    digests: dict[tuple[str, str], bytes],
) -> SealReport:
    rep = SealReport(id=_folder_name(entry.path), type="sign" if entry.type.lower() == "sign" else "seal")
    rep.extra = {"signature_id": entry.id, "path": entry.path}
    sig = sigs[index]
    if sig is None:
        detail = f"unreadable Signature.xml: {error.detail if error else 'unknown error'}"
        for name in ("integrity", "signature"):
            rep.checks[name] = Check.failed(detail)
        return rep
    written_time = parse_signature_datetime(sig.date_time)
    rep.signed_at = written_time.isoformat() if written_time else (sig.date_time or None)
    rep.extra.update(
        provider=sig.provider,
        stamp_annots=[
            {"page_ref": a.page_ref, "boundary": a.boundary, "clip": a.clip} for a in sig.stamp_annots
        ],
        locked=any(r.path.lower() == signatures_path.lower() for r in sig.references),
    )
    rep.checks["integrity"] = check_references(pkg, sig, digests)
    rep.checks["changes_after"], uncovered = changes_after(pkg, index, sigs, signatures_path)
    if uncovered:
        rep.extra["not_covered"] = uncovered
    try:
        value = check_signed_value(
            pkg.read(sig.signed_value_path, MAX_SES_BYTES), sig.raw, options.extra_certs
        )
    except SealBridgeError as err:
        rep.checks["signature"] = Check.failed(f"SignedValue.dat: {err.detail or err.code}")
        return rep
    rep.checks["signature"] = value.signature
    claim = "signed by the signer (SignedValue.dat)"
    if value.signed_at is None and written_time is not None:
        # No signed time (bare or attribute-less signatures): SignatureDateTime is the best claim there is.
        value.signed_at = written_time
        claim = "SignatureDateTime (not signed)"
    rep.extra["encoding"] = value.kind
    if value.notes:
        rep.extra["warnings"] = value.notes
    if value.signed_at is not None:
        rep.signed_at = value.signed_at.isoformat()
    rep.signer = signer_info(value.signer_cert)
    pool = list(options.extra_certs) + value.embedded_certs
    rep.checks["timestamp"] = Check.unknown("not applicable: no timestamp")
    if value.timestamp:
        ts = check_timestamp(value.timestamp, value.signature_value, options.trust_anchors, pool, now)
        rep.checks["timestamp"] = ts.check
        if ts.gen_time is not None and ts.check.status == "ok":
            value.signed_at = ts.gen_time  # GB/T 38540: the timestamp's time is the signing time
            rep.signed_at = ts.gen_time.isoformat()
            rep.extra["signing_time_source"] = "timestamp"
            rep.extra["signing_time_detail"] = "genTime of a verified RFC 3161 token"
    if value.signed_at is not None and "signing_time_source" not in rep.extra:
        # The signer's own clock: a backdated time cannot be told from a true one (docs/verification.md).
        rep.extra["signing_time_source"] = "claimed"
        rep.extra["signing_time_detail"] = claim
    _check_seal(pkg, sig, value, rep)
    rep.checks["certificate"] = check_certificate(
        value.signer_cert, value.signed_at, options.trust_anchors, pool, now
    )
    rep.checks["platform_status"] = (
        platform_check(value.seal.esid, value.signed_at, options, value.signer_cert)
        if value.seal is not None
        else Check.unknown("not applicable: no seal")
    )
    return rep


def _check_seal(pkg: OfdPackage, sig: SignatureXml, value: SignedValueResult, rep: SealReport) -> None:
    seal = value.seal
    if seal is None:
        rep.checks["seal"] = Check.unknown("not applicable: a digital signature (Type=Sign) carries no seal")
        rep.checks["signer_in_seal"] = Check.unknown("not applicable: no seal")
        return
    rep.seal = seal_info(seal)
    if rep.seal.picture_png_base64 is None:
        rep.extra["seal_picture"] = picture_note(seal)
    problems: list[str] = []
    if sig.seal_path:
        if not pkg.exists(sig.seal_path):
            problems.append(f"{sig.seal_path} is missing")
        elif (
            pkg.entries[pkg.find(sig.seal_path) or ""].size != len(seal.der)
            or pkg.read(sig.seal_path) != seal.der
        ):
            problems.append("Seal.esl differs from the seal embedded in the signature")
    rep.checks["seal"] = seal_check(seal, value.signed_at, problems)
    rep.checks["signer_in_seal"] = signer_in_seal_check(seal, value.signer_cert)
