"""The seal-related checks of a verification report, shared by the OFD and PDF verifiers so both judge a
GB/T 38540 seal by the same rules: the seal itself (maker signature, validity window at signing time), the
signer bound to it (certList), and its status at the central platform (one reading of a status answer for
the agent and the platform's own verify endpoint)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from formats.errors import SealBridgeError
from formats.ses import Seal, signer_in_seal, verify_maker
from stamping.options import VerifyOptions, lookup_status
from stamping.report import Check, Reason, reason
from stamping.seal_users import cert_use


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
        return platform_error_check(err.code, esid)
    except Exception as exc:  # noqa: BLE001 - the platform's trouble makes the check unknown, never a crash
        return Check.unknown("PLATFORM_UNREACHABLE", error_code=type(exc).__name__)


def platform_error_check(error_code: str, esid: str) -> Check:
    """The platform_status check when asking the platform failed with a SealBridgeError code."""
    if error_code == "SEAL_NOT_FOUND":
        return Check.unknown("PLATFORM_SEAL_NOT_REGISTERED", esid=esid)
    if error_code == "PLATFORM_RESPONSE_INVALID":
        return Check.failed("PLATFORM_RESPONSE_INVALID")
    return Check.unknown("PLATFORM_UNREACHABLE", error_code=error_code)


def status_answer_check(
    body: dict[str, Any],
    signed_at: datetime | None,
    cert_der: bytes | None = None,
    *,
    produced_at: str | None = None,
    cached: bool = False,
) -> Check:
    """The platform_status check from a platform status body ({status, since, status_at, at, holder_certs,
    authorizations}): decided by the status at signing time when it is known, and, given the signer
    certificate, by whether it held or was authorized to use the seal then."""
    now, since = body.get("status"), body.get("since")
    common = {"now_status": now, "since": since if now != "active" else None, "produced_at": produced_at}
    notes = [reason("PLATFORM_CACHED_ANSWER", produced_at=produced_at)] if cached else []
    if signed_at is None:
        if now == "active":
            return Check.of("ok", [reason("PLATFORM_ACTIVE_NOW", **common), *notes])
        # Revoked now and no time to say whether the use came before: ETSI's REVOKED_NO_POE.
        etsi = "REVOKED_NO_POE" if now in ("revoked", "suspended") else "SIG_CONSTRAINTS_FAILURE"
        return Check.of("unknown", [reason("PLATFORM_NOT_ACTIVE_NOW", etsi=etsi, **common), *notes])
    at_status, at = body.get("status_at"), body.get("at")
    if at_status != "active":
        etsi = {"revoked": "REVOKED", "suspended": "REVOKED", "expired": "EXPIRED"}.get(
            str(at_status), "NOT_YET_VALID"
        )
        first = reason("PLATFORM_NOT_ACTIVE_AT_SIGNING", at=at, at_status=at_status, etsi=etsi, **common)
        return Check.of("failed", [first, *notes])
    first = reason("PLATFORM_ACTIVE_AT_SIGNING", at=at, **common)
    if cert_der is not None:
        allowed, why = cert_use(body, cert_der, signed_at)
        if allowed is False and why is not None:
            return Check.of("failed", [why, first, *notes])
        if why is not None:
            notes.insert(0, why)
    return Check.of("ok", [first, *notes])
