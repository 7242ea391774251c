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
from stamping.options import VerifyOptions
from stamping.report import Check, SealInfo, SealReport, SignerInfo
from stamping.sealchecks import platform_check, seal_check, signer_in_seal_check
from stamping.sealview import seal_info

_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)
_ALGORITHM_NAMES = {"sm2_sm3": "SM2-with-SM3", "sm2_1": "SM2 (GM/T 0010)"}


def signer_info(cert: x509.Certificate | None) -> SignerInfo | None:
    if cert is None:
        return None
    try:
        return SignerInfo(
            subject=cert.subject.human_friendly,
            serial=format(cert.serial_number, "x"),
            issuer=cert.issuer.human_friendly,
        )
    except Exception:  # a damaged certificate is reported elsewhere; no signer line then
        return None


def integrity_check(status: PdfSignatureStatus, byte_range: tuple[int, ...], file_size: int) -> Check:
    coverage = status.coverage
    where = f"ByteRange {list(byte_range)}" if byte_range else "ByteRange"
    if not status.intact:
        return Check.failed(f"the {status.md_algorithm} digest over the {where} does not match messageDigest")
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        name = coverage.name if coverage is not None else "unknown"
        return Check.failed(
            f"the {where} does not cover its whole revision except /Contents (coverage {name})"
        )
    end = byte_range[2] + byte_range[3] if len(byte_range) == 4 else None
    scope = (
        "the whole file"
        if coverage == SignatureCoverageLevel.ENTIRE_FILE
        else f"bytes 0-{end} (its revision)"
    )
    return Check.ok(
        f"{where} covers {scope} of {file_size} bytes except /Contents; {status.md_algorithm} digest matches"
    )


def signature_check(status: PdfSignatureStatus, mechanism: str) -> Check:
    name = _ALGORITHM_NAMES.get(mechanism, mechanism)
    if status.valid:
        return Check.ok(f"{name} signature over the signed attributes verifies")
    return Check.failed(f"{name} signature over the signed attributes does not verify")


def changes_after_check(status: PdfSignatureStatus) -> Check:
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check.ok("nothing was added after this signature")
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        return Check.failed(f"changes after signing that no policy allows: {diff}")
    level = status.modification_level
    if level is None:
        return Check.unknown("later revisions exist but pyHanko's difference analysis gave no result")
    if status.docmdp_ok is False:
        return Check.failed(f"later changes ({level.name}) break the certification signature's DocMDP rules")
    if level in _ALLOWED_LATER:
        return Check.ok(f"later revisions only add signatures or fill in forms (pyHanko: {level.name})")
    return Check.failed(f"changes after signing beyond signatures and form filling (pyHanko: {level.name})")


def certificate_check(
    cert: x509.Certificate, status: PdfSignatureStatus, at: datetime, options: VerifyOptions, now: datetime
) -> Check:
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if not not_before <= at <= not_after:
        return Check.failed(f"the signer certificate was not valid at the signing time {at.isoformat()}")
    notes = [] if now <= not_after else ["the certificate has expired since (it was valid at signing)"]
    if not options.trust_anchors:
        return Check.unknown("; ".join(["no trust anchors configured (--trust)", *notes]))
    if status.trusted:
        path = status.validation_path
        names = " → ".join(
            c.subject.human_friendly for c in reversed(list(path.iter_certs(include_root=True)))
        )
        return Check.ok("; ".join([f"chain to a trust anchor, valid at signing: {names}", *notes]))
    problem = status.trust_problem_indic
    pname = getattr(problem, "name", str(problem))
    if status.revoked:
        return Check.failed(f"the signer certificate is revoked ({pname})")
    if pname in ("EXPIRED", "NOT_YET_VALID", "OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED"):
        return Check.failed(f"certificate path not valid at the signing time ({pname})")
    if pname == "NO_CERTIFICATE_CHAIN_FOUND":
        return Check.unknown(
            "; ".join(
                [f"unknown issuer: no chain to a trust anchor for {cert.issuer.human_friendly}", *notes]
            )
        )
    return Check.unknown("; ".join([f"certificate path not validated: {pname}", *notes]))


def timestamp_check(status: PdfSignatureStatus) -> Check:
    ts = status.timestamp_validity
    if ts is None:
        return Check.unknown("not applicable: no timestamp")
    when = ts.timestamp.isoformat() if ts.timestamp else "?"
    if not (ts.intact and ts.valid):
        return Check.failed(f"the RFC 3161 timestamp ({when}) does not verify")
    if not ts.trusted:
        return Check.unknown(
            f"RFC 3161 timestamp {when} verifies, but its TSA does not chain to a trust anchor"
        )
    return Check.ok(f"RFC 3161 timestamp {when}, TSA trusted")


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
        rep.checks["seal"] = Check.unknown("not applicable: a digital signature without a GB/T 38540 seal")
        rep.checks["signer_in_seal"] = Check.unknown("not applicable: no seal")
        rep.checks["platform_status"] = Check.unknown("not applicable: no seal")
        return
    try:
        seal = parse_seal(seal_der)
    except SealBridgeError as err:
        rep.checks["seal"] = Check.failed(
            f"the seal in the signature is unreadable: {err.detail or err.code}"
        )
        rep.checks["signer_in_seal"] = Check.unknown("no readable seal")
        rep.checks["platform_status"] = Check.unknown("no readable seal")
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
