"""Turn pyHanko's verdict on one PDF signature, plus our seal checks, into a stamping.report.SealReport.

pyHanko (with GmSignatureValidator for SM2) answers: is the byte range digest intact, does the signature
verify, does the signer chain to the anchors, what changed in later revisions. We add: the GB/T 38540
seal carried in the signed attributes (maker signature, signer ∈ certList, validity at the signing time),
the certificate's validity at the signing time, and the platform status.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from asn1crypto import x509
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from formats.errors import SealBridgeError
from formats.ses.model import Seal
from formats.ses.parse import parse_seal
from stamping import certnames
from stamping.options import VerifyOptions
from stamping.report import Check, SealInfo, SealReport, reason
from stamping.sealchecks import platform_check, seal_check, signer_in_seal_check
from stamping.sealview import seal_info

_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)
_ALGORITHM_NAMES = {"sm2_sm3": "SM2-with-SM3", "sm2_1": "SM2 (GM/T 0010)"}


signer_info = certnames.signer_info


def algorithm_name(mechanism: str) -> str:
    return _ALGORITHM_NAMES.get(mechanism, mechanism)


def integrity_check(status: PdfSignatureStatus, byte_range: tuple[int, ...], file_size: int) -> Check:
    coverage = status.coverage
    digest = str(status.md_algorithm).upper()
    ranges = list(byte_range)
    if not status.intact:
        return Check.failed("BYTE_RANGE_DIGEST_MISMATCH", digest=digest, byte_range=ranges)
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        name = coverage.name if coverage is not None else None
        return Check.failed("BYTE_RANGE_INCOMPLETE", byte_range=ranges, coverage=name)
    end = byte_range[2] + byte_range[3] if len(byte_range) == 4 else None
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check.ok("BYTE_RANGE_COVERS_FILE", digest=digest, size=file_size, byte_range=ranges)
    return Check.ok("BYTE_RANGE_COVERS_REVISION", digest=digest, end=end, size=file_size, byte_range=ranges)


def signature_check(status: PdfSignatureStatus, mechanism: str) -> Check:
    name = algorithm_name(mechanism)
    if status.valid:
        return Check.ok("CMS_SIGNATURE_OK", algorithm=name)
    return Check.failed("CMS_SIGNATURE_FAILED", algorithm=name)


def changes_after_check(status: PdfSignatureStatus) -> Check:
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check.ok("CHANGES_NONE")
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        return Check.failed("CHANGES_NOT_ALLOWED", level="SUSPICIOUS", error=str(diff)[:200])
    level = status.modification_level
    if level is None:
        return Check.unknown("CHANGES_UNKNOWN")
    if status.docmdp_ok is False:
        return Check.failed("CHANGES_BREAK_LOCK", level=level.name)
    if level in _ALLOWED_LATER:
        return Check.ok("CHANGES_ALLOWED", level=level.name)
    return Check.failed("CHANGES_NOT_ALLOWED", level=level.name)


def certificate_check(
    cert: x509.Certificate, status: PdfSignatureStatus, at: datetime, options: VerifyOptions, now: datetime
) -> Check:
    failed, notes = certnames.validity_at_signing(cert, at, now)
    if failed is not None:
        return failed
    if not options.trust_anchors:
        return Check.of("unknown", [reason("NO_TRUST_ANCHORS"), *notes])
    if status.trusted:
        path = status.validation_path
        names = [
            certnames.display_name(c.subject) for c in reversed(list(path.iter_certs(include_root=True)))
        ]
        return Check.of("ok", [reason("CERT_CHAIN_OK", chain=names), *notes])
    problem = status.trust_problem_indic
    pname = getattr(problem, "name", None) or (str(problem) if problem is not None else None)
    if status.revoked:
        return Check.failed("CERT_REVOKED", problem=pname)
    if pname in ("EXPIRED", "NOT_YET_VALID", "OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED"):
        return Check.failed("CERT_PATH_INVALID_AT_SIGNING", problem=pname, etsi=pname)
    if pname == "NO_CERTIFICATE_CHAIN_FOUND":
        first = reason("CERT_UNKNOWN_ISSUER", issuer=certnames.display_name(cert.issuer))
        return Check.of("unknown", [first, *notes])
    # pyHanko names the problem with an ETSI EN 319 102-1 sub-indication; without one it is a general failure.
    first = reason("CERT_PATH_NOT_VALIDATED", problem=pname, etsi=pname)
    return Check.of("unknown", [first, *notes])


def timestamp_check(status: PdfSignatureStatus) -> Check:
    ts = status.timestamp_validity
    if ts is None:
        return Check.unknown("NA_NO_TIMESTAMP")
    when = ts.timestamp
    if not (ts.intact and ts.valid):
        return Check.failed("TS_INVALID", time=when)
    if not ts.trusted:
        return Check.unknown("TS_TSA_UNTRUSTED", time=when)
    tsa = getattr(ts, "signing_cert", None)
    return Check.ok("TS_OK", time=when, tsa=certnames.display_name(tsa.subject) if tsa is not None else None)


def add_seal_checks(
    rep: SealReport,
    seal_der: bytes | None,
    cert_der: bytes | None,
    at: datetime | None,
    options: VerifyOptions,
) -> None:
    """seal, signer_in_seal and platform_status, from the seal carried in the signed attributes."""
    if seal_der is None:
        rep.type = "sign"
        rep.checks["seal"] = Check.unknown("NA_SIGN_TYPE")
        rep.checks["signer_in_seal"] = Check.unknown("NA_NO_SEAL")
        rep.checks["platform_status"] = Check.unknown("NA_NO_SEAL")
        return
    try:
        seal = parse_seal(seal_der)
    except SealBridgeError as err:
        rep.checks["seal"] = Check.failed("SEAL_UNREADABLE", error_code=err.code)
        rep.checks["signer_in_seal"] = Check.unknown("NO_READABLE_SEAL")
        rep.checks["platform_status"] = Check.unknown("NO_READABLE_SEAL")
        return
    rep.seal = replace(_seal_info(seal_der, seal))
    rep.checks["seal"] = seal_check(seal, at)
    rep.checks["signer_in_seal"] = signer_in_seal_check(seal, cert_der)
    rep.checks["platform_status"] = platform_check(seal.esid, at, options, cert_der)


_SEAL_INFO_CACHE: dict[bytes, SealInfo] = {}


def _seal_info(seal_der: bytes, seal: Seal) -> SealInfo:
    """The report's SealInfo; a document usually repeats one seal, and decoding its picture is the slow part."""
    info = _SEAL_INFO_CACHE.get(seal_der)
    if info is None:
        if len(_SEAL_INFO_CACHE) >= 16:
            _SEAL_INFO_CACHE.clear()
        info = _SEAL_INFO_CACHE[seal_der] = seal_info(seal)
    return info


def aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
