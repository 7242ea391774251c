"""Verify every signature of an OFD document (DESIGN §6, research/standards.md §4.4).

Each signature is checked independently and reported check by check; a damaged signature becomes a
failed seal in the report, never an exception. Only a package that cannot be read at all raises.
"""

from __future__ import annotations

import copy
from dataclasses import replace
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
from stamping.docdigests import sha256_hex, sm3_hex
from stamping.ofd.certcheck import check_certificate, signer_info
from stamping.ofd.coverage import changes_after, check_references, reference_sets
from stamping.ofd.entrypass import THREADS_FROM, WORKERS, EntryPass, run_entry_pass, wanted_digests
from stamping.ofd.hashjobs import HashJobs, Job
from stamping.ofd.signedvalue import SignedValueResult, check_signed_value
from stamping.ofd.sigtime import parse_signature_datetime
from stamping.options import VerifyOptions
from stamping.report import Check, Reason, Report, SealInfo, SealReport, reason
from stamping.reportmeta import finish
from stamping.sealchecks import platform_check, seal_check, signer_in_seal_check
from stamping.sealview import picture_note, seal_info
from stamping.timestamps.check import check_timestamp
from stamping.timestamps.timing import tsa_time_fields

MAX_SIGNATURES = 512  # far beyond any real document; bounds the work a hostile file can ask for


def _folder_name(path: str) -> str:
    parts = path.strip("/").split("/")
    return parts[-2] if len(parts) >= 2 else path


def verify(
    data: bytes, options: VerifyOptions | None = None, *, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS
) -> Report:
    options = options or VerifyOptions()
    pkg = OfdPackage(data, limits)
    # A large document is hashed on worker threads: the whole file's SM3 and SHA-256 start now, and the
    # entries join the same queue once the signatures say which are needed.
    jobs = HashJobs(WORKERS) if len(data) >= THREADS_FROM else None
    try:
        return _verify(pkg, data, options, jobs)
    except BaseException:
        if jobs is not None:
            jobs.cancel()  # nobody waits for them now
        raise


def _verify(pkg: OfdPackage, data: bytes, options: VerifyOptions, jobs: HashJobs | None) -> Report:
    now = options.now or datetime.now(UTC)
    digests_job = _start_document_digests(options, data, jobs)
    # The signatures are found from OFD.xml alone: a signed document whose Document.xml was deleted or
    # damaged must still be reported (as tampered), not rejected.
    _, bodies = doc_bodies(pkg)
    sig_loc = child_text(bodies[0], "Signatures")
    signatures_path = resolve(sig_loc, "/OFD.xml") if sig_loc else None
    report = Report(format="ofd")
    entries, sigs, errors = _read_signatures(pkg, signatures_path)
    # Document.xml and the pages are parsed next: hash them for the References from those same bytes.
    wanted = wanted_digests(pkg, sigs)
    pkg.hash_when_read(wanted)
    pages: list[str] = []
    try:
        pages = _page_refs(load_document(pkg, 0, bodies))
        report.extra["pages"] = len(pages)
    except SealBridgeError as err:
        if not signatures_path:
            raise
        report.extra["document_error"] = f"{err.code}: {err.detail}"
    if not signatures_path:
        return _finish(report, data, options, now, len(pages) or None, digests_job)
    if not pkg.exists(signatures_path):
        report.extra["warning"] = f"OFD.xml names {signatures_path}, which is missing"
        return _finish(report, data, options, now, len(pages) or None, digests_job)
    keep: dict[str, int] = {}
    for sig in sigs:
        if sig is not None:
            keep[sig.signed_value_path] = MAX_SES_BYTES
            if sig.seal_path:
                keep[sig.seal_path] = MAX_SES_BYTES
    entry_pass = run_entry_pass(pkg, sigs, keep, wanted, jobs)
    seal_infos: dict[bytes, SealInfo] = {}
    ref_sets = reference_sets(sigs)
    covered_by_any: set[str] = set().union(*ref_sets)
    listed: set[str] = set()
    # Signatures, seals and certificates are checked while the entries are still being hashed; the
    # References (integrity) are compared once every digest is in.
    integrity_due: list[tuple[int, SignatureEntry, SignatureXml]] = []
    for i, entry in enumerate(entries):
        if entry.path.lower() in listed:
            # The same Signature.xml listed again (under another ID) is one seal, not two.
            report.seals.append(_listed_twice(entry))
            continue
        listed.add(entry.path.lower())
        try:
            rep = _verify_one(
                pkg,
                signatures_path,
                i,
                entry,
                sigs,
                errors[i],
                options,
                now,
                entry_pass,
                seal_infos,
                (ref_sets, covered_by_any),
            )
            sig = sigs[i]
            if sig is not None:
                integrity_due.append((len(report.seals), entry, sig))
        except (RecursionError, MemoryError):
            raise  # the document as a whole is unreadable (stamping.documents says so)
        except Exception as exc:  # noqa: BLE001 - one unreadable seal must not hide the others
            rep = _uncheckable(entry, exc)
        report.seals.append(rep)
    digests = entry_pass.digests()
    for position, entry, sig in integrity_due:
        rep = report.seals[position]
        try:
            rep.checks["integrity"] = check_references(pkg, sig, digests)
            _describe_coverage(rep, sig, pkg, pages)
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - as above
            report.seals[position] = _uncheckable(entry, exc)
    report.extra["locked"] = any(
        s is not None and any(r.path.lower() == signatures_path.lower() for r in s.references) for s in sigs
    )
    return _finish(report, data, options, now, len(pages) or None, digests_job)


def _read_signatures(
    pkg: OfdPackage, signatures_path: str | None
) -> tuple[list[SignatureEntry], list[SignatureXml | None], list[SealBridgeError | None]]:
    """Signatures.xml's entries and each one's Signature.xml (None, with the error, when unreadable)."""
    if not signatures_path or not pkg.exists(signatures_path):
        return [], [], []
    entries, _ = read_signature_list(pkg, signatures_path)
    if len(entries) > MAX_SIGNATURES:
        raise SealBridgeError("DOC_TOO_LARGE", f"{len(entries)} signatures; the limit is {MAX_SIGNATURES}")
    sigs: list[SignatureXml | None] = []
    errors: list[SealBridgeError | None] = []
    read: dict[str, tuple[SignatureXml | None, SealBridgeError | None]] = {}
    # What all the Signature.xml parts may cost together; parts past it are reported unread.
    left_bytes, left_refs = pkg.limits.max_signature_xml_bytes_total, pkg.limits.max_references_total
    for entry in entries:
        name = pkg.find(entry.path)
        if name is not None and name in read:  # the same part listed again: read once
            sig, err = read[name]
        elif name is not None and (pkg.entries[name].size > left_bytes or left_refs <= 0):
            sig, err = None, _not_read(entry.path)
        else:
            if name is not None:
                left_bytes -= pkg.entries[name].size
            try:
                sig, err = read_signature_xml(pkg, entry.path), None
            except SealBridgeError as exc:
                sig, err = None, exc
            if sig is not None:
                left_refs -= len(sig.references)
                if left_refs < 0:
                    sig, err = None, _not_read(entry.path)
            if name is not None:
                read[name] = sig, err
        sigs.append(sig)
        errors.append(err)
    return entries, sigs, errors


def _not_read(path: str) -> SealBridgeError:
    return SealBridgeError(
        "DOC_TOO_LARGE",
        f"{path} not read: the document's signatures together are larger, or reference more files, than a "
        "verifier reads (formats/ofd/limits.py)",
    )


_DocumentDigests = tuple[HashJobs, Job[str], Job[str]]


def _start_document_digests(
    options: VerifyOptions, data: bytes, jobs: HashJobs | None
) -> _DocumentDigests | None:
    """The report's SM3 and SHA-256 of the whole file, queued first on the workers (the SM3 is the longest
    job there is, and one call: OpenSSL hashes the whole file without taking the GIL back) while this
    thread reads the signatures, unless the caller hashed already (or is hashing) or the file is small
    enough that finish() hashes it faster than a thread starts."""
    if options.document_digests is not None or options.document_digests_later is not None or jobs is None:
        return None
    return jobs, jobs.post(lambda: sm3_hex(data)), jobs.post(lambda: sha256_hex(data))


def _finish(
    report: Report,
    data: bytes,
    options: VerifyOptions,
    now: datetime,
    pages: int | None,
    document: _DocumentDigests | None,
) -> Report:
    if document is not None:
        jobs, sm3_job, sha_job = document
        options = replace(options, document_digests=(jobs.wait(sm3_job), jobs.wait(sha_job)))
    return finish(report, data, options, now, pages)


def _entry_bytes(pkg: OfdPackage, entry_pass: EntryPass, path: str, max_size: int | None = None) -> bytes:
    """A part the entry pass kept, or read now (which raises the precise error when it cannot be read)."""
    name = pkg.find(path)
    kept = entry_pass.kept.get(name) if name is not None else None
    return kept if kept is not None else pkg.read(path, max_size)


def _page_refs(document: object) -> list[str]:
    """The pages' IDs in order (StampAnnot PageRef points at them), as text."""
    return [str(getattr(p, "id", "")) for p in getattr(document, "pages", [])]


def _describe_coverage(rep: SealReport, sig: SignatureXml | None, pkg: OfdPackage, pages: list[str]) -> None:
    """`covers`: the protected files, the pages the seal is drawn on, and whether this seal alone protects the
    whole package as it was at its signing (its own files and, unless locked, Signatures.xml aside)."""
    if sig is None:
        return
    files = [r.path for r in sig.references]
    on_pages = sorted({pages.index(a.page_ref) + 1 for a in sig.stamp_annots if a.page_ref in pages})
    rep.covers = {
        "files": files,
        "pages": on_pages,
        "whole_document": rep.checks["changes_after"].status == "ok"
        and rep.checks["integrity"].status == "ok",
    }


def _uncheckable(entry: SignatureEntry, exc: Exception) -> SealReport:
    """A seal whose data broke a parser in a way nothing above foresaw: failed, with the plain cause."""
    rep = SealReport(id=_folder_name(entry.path), type="sign" if entry.type.lower() == "sign" else "seal")
    rep.extra = {"signature_id": entry.id, "path": entry.path}
    first = (str(exc).strip().splitlines() or [""])[0]
    error = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    if isinstance(exc, SealBridgeError):
        error = exc.detail or exc.message_en
    for name in ("integrity", "signature"):
        rep.checks[name] = Check.failed("SIGNATURE_UNREADABLE", error=error[:300])
    return rep


def _listed_twice(entry: SignatureEntry) -> SealReport:
    rep = SealReport(id=_folder_name(entry.path), type="sign" if entry.type.lower() == "sign" else "seal")
    rep.extra = {"signature_id": entry.id, "path": entry.path}
    for name in ("integrity", "signature"):
        rep.checks[name] = Check.failed("SIGNATURE_LISTED_TWICE", file=entry.path)
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
    entry_pass: EntryPass,
    seal_infos: dict[bytes, SealInfo],
    coverage: tuple[list[set[str]], set[str]],
) -> SealReport:
    rep = SealReport(id=_folder_name(entry.path), type="sign" if entry.type.lower() == "sign" else "seal")
    rep.extra = {"signature_id": entry.id, "path": entry.path}
    sig = sigs[index]
    if sig is None:
        for name in ("integrity", "signature"):
            rep.checks[name] = Check.failed(
                "SIGNATURE_XML_UNREADABLE", file=entry.path, error_code=error.code if error else None
            )
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
    rep.checks["integrity"] = Check.unknown("NOT_CHECKED")  # in its place; verify() fills it in
    rep.checks["changes_after"], uncovered = changes_after(pkg, index, sigs, signatures_path, *coverage)
    if uncovered:
        rep.extra["not_covered"] = uncovered
    try:
        value = check_signed_value(
            _entry_bytes(pkg, entry_pass, sig.signed_value_path, MAX_SES_BYTES), sig.raw, options.extra_certs
        )
    except SealBridgeError as err:
        rep.checks["signature"] = Check.failed("SIGNED_VALUE_UNREADABLE", error_code=err.code)
        return rep
    rep.checks["signature"] = value.signature
    rep.signature = _signature_facts(value)
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
    rep.checks["timestamp"] = Check.unknown("NA_NO_TIMESTAMP")
    if value.timestamp:
        ts = check_timestamp(value.timestamp, value.signature_value, options.trust_anchors, pool, now)
        rep.checks["timestamp"] = ts.check
        if ts.gen_time is not None and ts.check.status == "ok":
            rep.extra.update(tsa_time_fields(ts.gen_time, value.signed_at))
            value.signed_at = ts.gen_time  # GB/T 38540: the timestamp's time is the signing time
            rep.signed_at = ts.gen_time.isoformat()
    if value.signed_at is not None and "signing_time_source" not in rep.extra:
        # The signer's own clock: a backdated time cannot be told from a true one (docs/verification.md).
        rep.extra["signing_time_source"] = "claimed"
        rep.extra["signing_time_detail"] = claim
    _check_seal(pkg, sig, value, rep, entry_pass, seal_infos)
    rep.checks["certificate"] = check_certificate(
        value.signer_cert, value.signed_at, options.trust_anchors, pool, now
    )
    rep.checks["platform_status"] = (
        platform_check(value.seal.esid, value.signed_at, options, value.signer_cert)
        if value.seal is not None
        else Check.unknown("NA_NO_SEAL")
    )
    return rep


_ALGORITHMS = {"1.2.156.10197.1.501": "SM2-with-SM3"}


def _signature_facts(value: SignedValueResult) -> dict[str, object]:
    if value.kind == "ses":
        fmt = f"GB/T 38540 SES_Signature V{value.ses_version}"
    elif value.kind == "pkcs7":
        fmt = "PKCS#7 (GB/T 35275)"
    else:
        fmt = "SM2 signature value"
    return {"algorithm": "SM2-with-SM3", "format": fmt}


def _check_seal(
    pkg: OfdPackage,
    sig: SignatureXml,
    value: SignedValueResult,
    rep: SealReport,
    entry_pass: EntryPass,
    seal_infos: dict[bytes, SealInfo],
) -> None:
    seal = value.seal
    if seal is None:
        rep.checks["seal"] = Check.unknown("NA_SIGN_TYPE")
        rep.checks["signer_in_seal"] = Check.unknown("NA_NO_SEAL")
        return
    if seal.der not in seal_infos:  # ten seals of one company carry one seal: draw its picture once
        seal_infos[seal.der] = seal_info(seal)
    rep.seal = copy.copy(seal_infos[seal.der])
    if rep.seal.picture_png_base64 is None:
        rep.extra["seal_picture"] = picture_note(seal)
    problems: list[Reason] = []
    if sig.seal_path:
        if not pkg.exists(sig.seal_path):
            problems.append(reason("SEAL_FILE_MISSING", file=sig.seal_path))
        elif (
            pkg.entries[pkg.find(sig.seal_path) or ""].size != len(seal.der)
            or _entry_bytes(pkg, entry_pass, sig.seal_path) != seal.der
        ):
            problems.append(reason("SEAL_FILE_DIFFERS"))
    rep.checks["seal"] = seal_check(seal, value.signed_at, problems)
    rep.checks["signer_in_seal"] = signer_in_seal_check(seal, value.signer_cert)
