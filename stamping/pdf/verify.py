"""Verify every signature of a PDF (DESIGN §6) into the shared report.

1. Every signature dictionary is listed (sigfields from pyHanko's parse; sigscan with pikepdf for what
   that cannot read plainly), so signatures with a SubFilter pyHanko ignores are reported as
   indeterminate with the SubFilter named, never dropped.
2. pyHanko validates the others: byte range digest, signature (SM2 through GmSignatureValidator),
   chain to the anchors, difference analysis of later revisions.
3. sigcheck adds the seal carried in the signed attributes and the platform status.
A damaged signature becomes a failed seal in the report; only an unreadable file raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from formats.errors import SealBridgeError
from stamping.options import VerifyOptions
from stamping.pdf import forkshare, sigcheck
from stamping.pdf.anchors import parsed_certificates, trust_manager
from stamping.pdf.payloadviews import document_stream
from stamping.pdf.scanned import ScannedSignature
from stamping.pdf.seal_attr import seal_from_signed_attrs
from stamping.pdf.sigdigest import DocumentPass, ForkedDocumentPass, SignatureDigests
from stamping.pdf.sigfields import duplicate_keys, scan_parsed
from stamping.pdf.sm2_pyhanko import GmSignatureValidator, register_oids
from stamping.report import Check, Report, SealReport, reason
from stamping.reportmeta import finish
from stamping.timestamps.timing import tsa_time_fields

# Either bit will do: Chinese CAs issue signing certificates with digitalSignature, nonRepudiation or both.
_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)


def verify(data: bytes, options: VerifyOptions | None = None) -> Report:
    register_oids()
    options = options or VerifyOptions()
    now = sigcheck.aware(options.now) or datetime.now(UTC)
    reader, unreadable, scanned = _read_and_scan(data)
    report = Report(format="pdf")
    if not scanned:
        return finish(report, data, options, now, _page_count(data, reader))
    try:
        if reader is None:
            raise unreadable or PdfError("unreadable")
        # By object reference, not by name: see ScannedSignature.field_ref.
        fields = {
            (ref.idnum, ref.generation): ref for _, _, ref in enumerate_sig_fields(reader, filled_status=True)
        }
    except (PdfError, ValueError, KeyError, TypeError, AssertionError) as exc:
        # pyHanko asserts some structure (a /Root that is not a dictionary raises AssertionError).
        raise SealBridgeError(
            "DOC_MALFORMED",
            f"pyHanko cannot read the PDF: {str(exc) or 'its structure is not what the PDF format requires'}",
        ) from None
    anchors = _certs(options.trust_anchors)
    extra = _certs(options.extra_certs)
    prepared: list[tuple[ScannedSignature, EmbeddedPdfSignature | SealReport]] = []
    for scan in scanned:
        field = fields.get(scan.field_ref) if scan.field_ref else None
        if not scan.pyhanko_handles:
            prepared.append((scan, _unsupported(scan)))
        elif field is None:
            prepared.append((scan, _unsupported(scan, "FIELD_NOT_IN_ACROFORM")))
        else:
            prepared.append((scan, _embedded(reader, field, scan)))
    embedded = [item for _, item in prepared if isinstance(item, EmbeddedPdfSignature)]
    _refuse_too_many_comparisons(embedded, reader.xrefs.total_revisions)
    # One pass over the file for every signature's digest (and the report's), on a second thread while
    # pyHanko analyses the revisions here. Started once nothing above can refuse the whole document, so a
    # refused one leaves no hashing behind (unless the caller started it already).
    document = _document_pass(data, options)
    digests = SignatureDigests(data, (s.byte_range for s in scanned if s.pyhanko_handles), document)
    helped = options.fork_helper and options.status_lookup is None and len(embedded) > 1
    # The changes are analysed while the digests are still being computed: in one process all of them;
    # when a forked helper will share the work, only as many as fit before the digests are there (the
    # helper is forked then: no thread may run at the fork), the lightest first so that the last one
    # started keeps the fork waiting as little as may be.
    tried: set[int] = set()
    if helped and not digests.ready():
        _warm_up(embedded)
    analysed = {id(emb) for emb in _analyse_while(embedded, digests.ready if helped else None, tried)}
    digests.seed(embedded)
    if options.document_digests is None:
        options = replace(options, document_digests=document(), document_digests_later=None)

    def check(i: int) -> SealReport:
        scan, item = prepared[i]
        if isinstance(item, SealReport):
            return item
        done = id(item) in analysed or (id(item) not in tried and _analyse_changes(item))
        return _verify_one(item, done, scan, len(data), anchors, extra, options, now)

    everything = range(len(prepared))
    if helped:
        # Forked as soon as the digests are there: what a first check loads was loaded above (_warm_up),
        # once for both processes.
        checked = forkshare.share_with_helper(check, *_shares(prepared, tried))
    else:
        checked = {i: check(i) for i in everything}
    ordered: list[tuple[int, SealReport]] = []
    for i in everything:
        scan, rep = prepared[i][0], checked[i]
        # Signing order: a signature's byte range ends where its revision ends.
        end = scan.byte_range[2] + scan.byte_range[3] if len(scan.byte_range) == 4 else len(data) + 1
        ordered.append((end, rep))
    report.seals = [rep for _, rep in sorted(ordered, key=lambda item: item[0])]
    report.extra["revisions"] = reader.xrefs.total_revisions
    _note_unsigned_changes(report.seals, [end for end, _ in sorted(ordered, key=lambda item: item[0])], data)
    return finish(report, data, options, now, _page_count(data, reader))


#: The most comparisons of a signed revision with a later one that a document may ask for (pyHanko's
#: difference analysis compares each signature's revision with every later revision, and each comparison
#: costs more the more revisions there are). 10 seals ask for 45; 60 for 1,770 (3 s here); 100 for 4,950;
#: 120 for 7,140 (25 s, 47 s of CPU). A few hundred signatures in a 1 MB upload would otherwise hold a batch
#: run or the agent for many minutes.
MAX_REVISION_COMPARISONS = 5000


def _refuse_too_many_comparisons(embedded: list[EmbeddedPdfSignature], revisions: int) -> None:
    needed = sum(_later_revisions(emb) for emb in embedded)
    if needed > MAX_REVISION_COMPARISONS:
        raise SealBridgeError(
            "DOC_TOO_LARGE",
            f"{len(embedded)} signatures over {revisions} revisions: {needed} comparisons of a signed revision "
            f"with a later one to check; the limit is {MAX_REVISION_COMPARISONS}",
        )


def _analyse_while(
    embedded: list[EmbeddedPdfSignature], stop_when: Callable[[], bool] | None, tried: set[int]
) -> list[EmbeddedPdfSignature]:
    """Analyse the changes after each signature, the lightest first, until stop_when() says so (all of
    them without it); the ones tried go into `tried`, the ones analysed are returned."""
    done = []
    for emb in sorted(embedded, key=_later_revisions):
        if stop_when is not None and stop_when():
            break
        tried.add(id(emb))
        if _analyse_changes(emb):
            done.append(emb)
    return done


def _warm_up(embedded: list[EmbeddedPdfSignature]) -> None:
    """Load what the first check of these signatures would load on first use, while the digests are still
    being computed and before the helper is forked, so that it is loaded once, not in both processes: the
    SM2 backend (a seal's maker signature is SM2, as a GM signature is) and cryptography's OpenSSL backend,
    which its ECDSA verifier imports when first made (~6 ms)."""
    if _carries_gm(embedded):
        from formats.gm.sm2 import warm_up

        warm_up()
    if _any_ecdsa(embedded):
        import cryptography.hazmat.backends.openssl.backend  # noqa: F401


def _any_ecdsa(embedded: list[EmbeddedPdfSignature]) -> bool:
    for emb in embedded:
        try:
            if "ecdsa" in emb.signer_info["signature_algorithm"]["algorithm"].native:
                return True
        except Exception:  # noqa: BLE001 - an unreadable CMS: its own check reports it
            continue
    return False


def _carries_gm(embedded: list[EmbeddedPdfSignature]) -> bool:
    """Will checking these signatures likely verify SM2: an SM3 digest (an SM2 signature) or a seal in the
    signed attributes (whose maker's signature is SM2 wherever GB/T 38540 seals are made)? Only a guess for
    what to load early: the checks themselves load what they need."""
    for emb in embedded:
        try:
            if (
                emb.md_algorithm == "sm3"
                or seal_from_signed_attrs(emb.signer_info["signed_attrs"]) is not None
            ):
                return True
        except Exception:  # noqa: BLE001 - an unreadable CMS: its own check reports it
            continue
    return False


def _later_revisions(emb: EmbeddedPdfSignature) -> int:
    """How many revisions follow the signed one: how many comparisons its difference analysis makes."""
    try:
        return emb.reader.xrefs.total_revisions - 1 - emb.signed_revision
    except Exception:  # noqa: BLE001 - an unreadable signature: checked quickly, wherever
        return 0


def _shares(
    prepared: list[tuple[ScannedSignature, EmbeddedPdfSignature | SealReport]], analysed: set[int]
) -> tuple[list[int], list[int]]:
    """(the signatures to check here, those for the helper), about equal in work: a signature's difference
    analysis (unless done already: `analysed`) compares its revision with each later one, so the earliest
    weigh most. The heaviest go first, each to the side with less so far."""
    weights = []
    for i, (_, item) in enumerate(prepared):
        if isinstance(item, EmbeddedPdfSignature):
            later = 0 if id(item) in analysed else _later_revisions(item)
            weights.append((later + 2, i))
    weights.sort()
    mine = [i for i, (_, item) in enumerate(prepared) if not isinstance(item, EmbeddedPdfSignature)]
    helpers: list[int] = []
    load = [0, 0]
    for weight, i in reversed(weights):
        side = 0 if load[0] <= load[1] else 1
        (helpers if side == 0 else mine).append(i)
        load[side] += weight
    return sorted(mine), sorted(helpers)


def _read_and_scan(data: bytes) -> tuple[PdfFileReader | None, Exception | None, list[ScannedSignature]]:
    """pyHanko's reader of the document (or why there is none: reported only if the document has
    signatures) and every signature dictionary: from pyHanko's parse when the document is plain
    (sigfields), else with pikepdf (sigscan: encrypted files, keys defined twice, and what pyHanko
    cannot read or pikepdf would repair)."""
    reader: PdfFileReader | None = None
    unreadable: Exception | None = None
    scanned: list[ScannedSignature] | None = None
    with duplicate_keys() as twice:
        try:
            reader = PdfFileReader(document_stream(data), strict=False)
        except (PdfError, ValueError, KeyError, TypeError, AssertionError) as exc:
            unreadable = exc
        if reader is not None:
            try:
                scanned = scan_parsed(reader)
            except Exception:  # noqa: BLE001 - sigfields.Unusual, or pyHanko meeting damage: pikepdf decides
                scanned = None
    if scanned is None or twice:
        from stamping.pdf.sigscan import scan_signatures

        scanned = scan_signatures(data)
    return reader, unreadable, scanned


def _document_pass(data: bytes, options: VerifyOptions) -> DocumentPass | ForkedDocumentPass:
    """The pass the caller started over these very bytes (`sealbridge verify`, while this module loaded),
    or a new one."""
    started = options.document_digests_later
    if isinstance(started, DocumentPass | ForkedDocumentPass) and started.data is data:
        return started
    return DocumentPass(data)


def _page_count(data: bytes, reader: PdfFileReader | None = None) -> int | None:
    try:
        reader = reader or PdfFileReader(document_stream(data), strict=False)
        return int(reader.root["/Pages"]["/Count"])
    except Exception:  # noqa: BLE001 - a page count is a courtesy; a damaged tree must not fail the report
        return None


def _note_unsigned_changes(seals: list[SealReport], ends: list[int], data: bytes) -> None:
    """UNSIGNED_CHANGES_AFTER for a seal whose later, allowed changes are not all covered by later seals:
    the revisions (%%EOF markers) after its own, minus those that end where a later signature's range ends."""
    allowed = [
        end
        for rep, end in zip(seals, ends, strict=True)
        if rep.checks["changes_after"].code == "CHANGES_ALLOWED"
    ]
    if not allowed:
        return
    eofs = _revision_ends(data, after=min(allowed))
    for i, (rep, end) in enumerate(zip(seals, ends, strict=True)):
        if rep.checks["changes_after"].code != "CHANGES_ALLOWED":
            continue
        later_signed = set(ends[i + 1 :])
        unsigned = [e for e in eofs if e > end and not any(abs(e - s) <= 2 for s in later_signed)]
        if unsigned:
            rep.notes.append(reason("UNSIGNED_CHANGES_AFTER", revisions=len(unsigned)))


def _revision_ends(data: bytes, after: int = 0) -> list[int]:
    """Offsets just after each %%EOF (with its line end): where each revision of the file ends; all those
    beyond `after` at least (the search starts where a revision ending after it can start, not at byte 0:
    a 50 MB original revision is not searched again for the markers of its seals' small updates)."""
    out = []
    start = min(after, len(data))
    while start > 0 and data[start - 1 : start] in (b"\r", b"\n"):
        start -= 1  # a marker whose line ends reach past `after` starts before them
    pos = data.find(b"%%EOF", max(0, start - 5))
    while pos >= 0:
        end = pos + 5
        while end < len(data) and data[end : end + 1] in (b"\r", b"\n"):
            end += 1
        out.append(end)
        pos = data.find(b"%%EOF", pos + 5)
    return out


def _certs(ders: list[bytes]) -> list[x509.Certificate]:
    return list(parsed_certificates(tuple(bytes(d) for d in ders)))  # parsed once per process


def _locks(emb: EmbeddedPdfSignature) -> bool:
    """Does this signature forbid every later change (DocMDP or field lock with P=1)?"""
    try:
        return emb.docmdp_level == MDPPerm.NO_CHANGES
    except Exception:  # a damaged /Reference or /Lock: not a lock we can rely on
        return False


def _broken(rep: SealReport, what: str, exc: Exception) -> SealReport:
    """A signature that cannot be read or validated fails integrity and signature; the others still count."""
    for name in ("integrity", "signature"):
        rep.checks[name] = Check.failed("SIGNATURE_UNREADABLE", error=type(exc).__name__, stage=what)
    return rep


def _unsupported(scan: ScannedSignature, why: str | None = None) -> SealReport:
    rep = SealReport(id=scan.field_name, type="sign")
    subfilter = scan.subfilter or "(none)"
    for name in rep.checks:
        if why:
            rep.checks[name] = Check.unknown(why)
        else:
            rep.checks[name] = Check.unknown("SUBFILTER_UNSUPPORTED", subfilter=subfilter, filter=scan.filter)
    rep.extra = {"subfilter": subfilter, "filter": scan.filter, "pages": list(scan.pages)}
    return rep


def _embedded(
    reader: PdfFileReader, field: object, scan: ScannedSignature
) -> EmbeddedPdfSignature | SealReport:
    """pyHanko's view of the signature, or the report of why it cannot be checked."""
    try:
        emb = EmbeddedPdfSignature(reader, field, scan.field_name)  # type: ignore[arg-type]
    except Exception as exc:  # a broken /Contents or /ByteRange: this seal fails, the others still count
        rep = SealReport(id=scan.field_name, type="seal")
        rep.extra = {"subfilter": scan.subfilter, "pages": list(scan.pages)}
        return _broken(rep, "unreadable signature", exc)
    if not hasattr(emb, "external_md_algorithm"):
        # GM/T 0010 CMS (eContentType 1.2.156.10197.6.1.4.2.1 "gm_data"): pyHanko only sets the document
        # digest algorithm for 'data' and 'tst_info'. For a detached GM signature it is the signer's digest.
        emb.external_md_algorithm = emb.md_algorithm
    if emb.sig_object_type != "/Sig":
        return _unsupported(scan, "DOC_TIMESTAMP_NOT_CHECKED")
    return emb


def _analyse_changes(emb: EmbeddedPdfSignature) -> bool:
    """pyHanko's coverage check and difference analysis, as compute_integrity_info() runs them but before
    the digest (which is still being computed on the other thread). True when they ran; the validation
    then passes skip_diff, which keeps this diff_result. On an error nothing is kept, and the validation
    runs pyHanko's own sequence, which meets the same error in the same place."""
    try:
        emb.coverage = emb.evaluate_signature_coverage()
        emb.diff_result = emb.evaluate_modifications(DEFAULT_DIFF_POLICY)
    except Exception:  # noqa: BLE001 - reported by the validation that repeats it
        emb.coverage = emb.diff_result = None
        return False
    return True


def _verify_one(
    emb: EmbeddedPdfSignature,
    analysed: bool,
    scan: ScannedSignature,
    file_size: int,
    anchors: list[x509.Certificate],
    extra: list[x509.Certificate],
    options: VerifyOptions,
    now: datetime,
) -> SealReport:
    rep = SealReport(id=scan.field_name, type="seal")
    rep.extra = {"subfilter": scan.subfilter, "pages": list(scan.pages)}
    try:
        cert = emb.signer_cert
        signer_info = emb.signer_info
        mechanism = signer_info["signature_algorithm"]["algorithm"].native
        claimed = sigcheck.aware(emb.self_reported_timestamp)
        seal_der = seal_from_signed_attrs(signer_info["signed_attrs"])
    except Exception as exc:  # malformed CMS in /Contents: asn1crypto and pyHanko raise many types
        return _broken(rep, "unreadable CMS signature", exc)
    rep.signer = sigcheck.signer_info(cert)
    rep.extra.update(digest=emb.md_algorithm, signature_algorithm=mechanism, locked=_locks(emb))
    rep.signature = {"algorithm": sigcheck.algorithm_name(mechanism), "format": f"PDF {scan.subfilter}"}
    rep.covers = {"pages": list(scan.pages), "byte_ranges": _pairs(scan.byte_range)}
    validator = GmSignatureValidator()
    vc_kwargs = dict(
        trust_manager=trust_manager(anchors),  # built once per process for the same anchors
        other_certs=extra,
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=claimed or now,
        signature_validator=validator,
    )
    try:
        status = asyncio.run(
            async_validate_pdf_signature(
                emb,
                signer_validation_context=ValidationContext(**vc_kwargs),
                ts_validation_context=ValidationContext(**{**vc_kwargs, "moment": now}),
                key_usage_settings=_KEY_USAGE,
                skip_diff=analysed,
            )
        )
    except Exception as exc:  # pyHanko raises on structurally broken signatures; report, never crash
        return _broken(rep, "pyHanko could not validate", exc)
    ts = status.timestamp_validity
    proven = sigcheck.aware(ts.timestamp) if ts is not None and ts.intact and ts.valid else None
    signed_at = proven or claimed
    rep.signed_at = signed_at.isoformat() if signed_at else None
    if proven is not None:
        rep.extra.update(tsa_time_fields(proven, claimed))
    elif signed_at is not None:
        rep.extra.update(_time_source(status))
    rep.extra.update(
        coverage=status.coverage.name if status.coverage else None,
        modification_level=status.modification_level.name if status.modification_level else None,
        sm2_checks=validator.sm2_checks,
    )
    rep.checks["integrity"] = sigcheck.integrity_check(status, scan.byte_range, file_size)
    rep.checks["signature"] = sigcheck.signature_check(status, mechanism)
    rep.checks["changes_after"] = sigcheck.changes_after_check(status)
    rep.checks["certificate"] = sigcheck.certificate_check(cert, status, signed_at or now, options, now)
    rep.checks["timestamp"] = sigcheck.timestamp_check(status)
    sigcheck.add_seal_checks(rep, seal_der, cert.dump(), signed_at, options)
    rep.covers["whole_document"] = status.coverage is not None and status.coverage.name in (
        "ENTIRE_REVISION",
        "ENTIRE_FILE",
    )
    return rep


def _pairs(byte_range: tuple[int, ...]) -> list[list[int]]:
    return [[byte_range[i], byte_range[i + 1]] for i in range(0, len(byte_range) - 1, 2)]


def _time_source(status: PdfSignatureStatus) -> dict[str, str]:
    """Where an unproven signing time comes from: the signer's own claim (which a
    backdating signer controls). Informational only: the checks and the verdict do not change."""
    if status.timestamp_validity is not None:
        why = "the RFC 3161 timestamp does not verify; its time is unproven"
        return {"signing_time_source": "claimed", "signing_time_detail": why}
    return {"signing_time_source": "claimed", "signing_time_detail": "the signer's signingTime or /M"}
