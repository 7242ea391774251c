"""The seal-related checks of a verification report, shared by the OFD and PDF verifiers so both judge a
GB/T 38540 seal by the same rules: the seal itself (maker signature, validity window at signing time), the
signer bound to it (certList), and its status at the central platform."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from formats.errors import SealBridgeError
from formats.ses import Seal, signer_in_seal, verify_maker
from stamping.options import VerifyOptions
from stamping.platform_status import lookup_status
from stamping.report import Check


def seal_check(seal: Seal, signed_at: datetime | None, problems: Iterable[str] = ()) -> Check:
    """`problems` are format-specific findings (e.g. an OFD Seal.esl that differs from the embedded seal)."""
    found = list(problems)
    status, detail = verify_maker(seal)
    if signed_at is not None and not seal.valid_start <= signed_at <= seal.valid_end:
        found.append(
            f"signed at {signed_at.isoformat()}, outside the seal's validity "
            f"{seal.valid_start.isoformat()}..{seal.valid_end.isoformat()}"
        )
    if found or status == "failed":
        return Check.failed("; ".join(found + ([detail] if status == "failed" else [])))
    if status == "unknown":
        return Check.unknown(detail)
    tail = (
        "; valid at signing"
        if signed_at is not None
        else "; signing time unknown, validity window not checked"
    )
    return Check.ok(f"V{seal.version} seal {seal.esid}: {detail}{tail}")


def signer_in_seal_check(seal: Seal, cert_der: bytes | None) -> Check:
    if not cert_der:
        return Check.unknown("no signer certificate")
    if signer_in_seal(seal, cert_der):
        return Check.ok("the signer certificate is in the seal's certList")
    return Check.failed("the signer certificate is not in the seal's certList")


def platform_check(
    esid: str, signed_at: datetime | None, options: VerifyOptions, cert_der: bytes | None = None
) -> Check:
    """Status now and at signing time. With the signer certificate, when the lookup takes it: an ended or
    withdrawn authorization leaves the certificate in the seal, so only the platform can say it no longer
    covered the signing time."""
    if options.status_lookup is None:
        return Check.unknown("not applicable: no platform configured (--platform)")
    try:
        return lookup_status(options.status_lookup, esid, signed_at, cert_der)
    except SealBridgeError as err:
        return Check.unknown(f"platform: {err.code} {err.detail or ''}".strip())
