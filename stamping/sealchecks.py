"""The seal-related checks of a verification report, shared by the OFD and PDF verifiers so both judge a
GB/T 38540 seal by the same rules: the seal itself (maker signature, validity window at signing time), the
signer bound to it (certList), and its status at the central platform (stamping.platform_status)."""

from __future__ import annotations

from datetime import datetime

from formats.errors import SealBridgeError
from formats.ses import Seal, signer_in_seal, verify_maker
from stamping.options import VerifyOptions
from stamping.platform_status import error_check, lookup_status
from stamping.report import Check, Reason, reason


def seal_check(seal: Seal, signed_at: datetime | None, problems: list[Reason] | None = None) -> Check:
    """`problems` are format-specific findings (e.g. an OFD Seal.esl that differs from the embedded seal)."""
    found = list(problems or [])
    status, _ = verify_maker(seal)
    if status == "failed":
        found.append(reason("SEAL_MAKER_SIGNATURE_INVALID"))
    if signed_at is not None and signed_at > seal.valid_end:
        found.append(reason("SEAL_EXPIRED_AT_SIGNING", signed_at=signed_at, valid_to=seal.valid_end))
    elif signed_at is not None and signed_at < seal.valid_start:
        found.append(
            reason("SEAL_NOT_YET_VALID_AT_SIGNING", signed_at=signed_at, valid_from=seal.valid_start)
        )
    if found:
        return Check.of("failed", found)
    if status == "unknown":
        return Check.unknown("SEAL_MAKER_UNVERIFIABLE")
    code = "SEAL_OK" if signed_at is not None else "SEAL_OK_TIME_UNKNOWN"
    return Check.ok(code, esid=seal.esid, version=seal.version)


def signer_in_seal_check(seal: Seal, cert_der: bytes | None) -> Check:
    if not cert_der:
        return Check.unknown("NO_SIGNER_CERT")
    if signer_in_seal(seal, cert_der):
        return Check.ok("SIGNER_IN_SEAL")
    return Check.failed("SIGNER_NOT_IN_SEAL")


def platform_check(
    esid: str, signed_at: datetime | None, options: VerifyOptions, cert_der: bytes | None = None
) -> Check:
    """Status now and at signing time. With the signer certificate, when the lookup takes it: an ended or
    withdrawn authorization leaves the certificate in the seal, so only the platform can say it no longer
    covered the signing time."""
    if options.status_lookup is None:
        return Check.unknown("NA_NO_PLATFORM")
    try:
        return lookup_status(options.status_lookup, esid, signed_at, cert_der)
    except SealBridgeError as err:
        return error_check(err.code, esid)
    except Exception as exc:  # noqa: BLE001 - the platform's trouble makes the check unknown, never a crash
        return Check.unknown("PLATFORM_UNREACHABLE", error_code=type(exc).__name__)
