"""The platform-status contract: what the central platform answers about a seal, and what that answer means.

One definition for both sides: the platform (central/) derives the status it signs with these functions, the
agent re-derives a cached answer and turns any answer into the report's platform_status check with the same
ones. Both import stamping; neither may import the other (docs/architecture.md).

- Time format: UTC, fixed width, microseconds (`2026-01-02T03:04:05.000000Z`); string order is time order.
- Status at t: from the seal's event history (Art. 17, 22, 23).
- Authorization window: may this certificate use the seal at t (Art. 12)?
- Status → Check: the report's platform_status check.
- StatusLookup: the callable a verifier is handed to ask about a seal (stamping does no network I/O itself).

Why the seal itself is not enough for the authorization window: granting an authorization re-makes the seal
with the authorized certificate in its certList, and that seal DER stays verifiable after the authorization
ends or is withdrawn. Only the platform knows the window, so the status body lists `holder_certs` (SHA-256 hex
of the certificates the seal was made for) and `authorizations` ({cert_sha256, not_before, not_after,
revoked_at}).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from stamping.messages import render
from stamping.report import Check, Reason, reason

# -- time format -------------------------------------------------------------------------------------------

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def platform_time(t: datetime) -> str:
    """The platform's time form: UTC, fixed width, microseconds (naive means UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def parse_platform_time(text: str) -> datetime:
    """A time in the platform's form (or any ISO 8601 with Z/offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- status at a time --------------------------------------------------------------------------------------

ACTIVE, SUSPENDED, REVOKED, EXPIRED = "active", "suspended", "revoked", "expired"
NOT_YET_VALID, NOT_ISSUED, UNKNOWN = "not_yet_valid", "not_issued", "unknown"
STATUSES = (ACTIVE, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, NOT_ISSUED, UNKNOWN)


def status_at(
    history: Sequence[tuple[str, str]], valid_start: str, valid_end: str, t: str
) -> tuple[str, str | None, str | None]:
    """(status, since, until) at time t. History is (at, status) events in order; all times in the platform's
    form. At t the status is the one set by the last event at or before t, except: before valid_start ->
    not_yet_valid; after valid_end -> expired; before the first event (the making) -> not_issued.
    `since`/`until` bound the interval in which that answer holds."""
    if t < valid_start:
        return NOT_YET_VALID, None, valid_start
    index = -1
    for i, (at, _status) in enumerate(history):
        if at <= t:
            index = i
        else:
            break
    if index < 0 and history and history[0][0][:19] == t[:19]:
        # Signing times carry whole seconds: a signature in the second the seal was made came after the making
        # (it embeds the seal), so it counts as made.
        index = 0
    if index < 0:
        return NOT_ISSUED, None, history[0][0] if history else None
    status = history[index][1]
    if status == REVOKED:
        return REVOKED, history[index][0], None
    if t >= valid_end:
        return EXPIRED, valid_end, None
    since = history[index][0]
    until = valid_end
    for at, later in history[index + 1 :]:
        if later != status:
            until = min(at, valid_end)
            break
    return status, since, until


# -- authorization window ----------------------------------------------------------------------------------


def cert_may_use(body: Mapping[str, Any], cert_der: bytes, at: datetime) -> tuple[bool | None, str]:
    """(True, why) for a holder or a certificate authorized at `at`; (False, why) otherwise;
    (None, why) when the body does not say (a platform that predates holder_certs). `why` in English."""
    allowed, why = cert_use(body, cert_der, at)
    if why is None:
        return allowed, "the platform's answer does not list who may use the seal"
    return allowed, render(why.code, why.params, "en")


def cert_use(body: Mapping[str, Any], cert_der: bytes, at: datetime) -> tuple[bool | None, Reason | None]:
    """As cert_may_use, with the reason as a report code (CERT_HOLDS_SEAL, CERT_AUTHORIZED,
    CERT_AUTHORIZATION_NOT_COVERING, CERT_NOT_HOLDER_NOR_AUTHORIZED; None when the body does not say)."""
    holders = body.get("holder_certs")
    grants = body.get("authorizations")
    if not isinstance(holders, list) or not isinstance(grants, list):
        return None, None
    sha = hashlib.sha256(bytes(cert_der)).hexdigest()
    if sha in holders:
        return True, reason("CERT_HOLDS_SEAL")
    t = platform_time(at)
    seen = False
    for grant in grants:
        if not isinstance(grant, dict) or grant.get("cert_sha256") != sha:
            continue
        seen = True
        start, end, revoked = grant.get("not_before"), grant.get("not_after"), grant.get("revoked_at")
        if not isinstance(start, str) or not isinstance(end, str):
            continue
        if isinstance(revoked, str) and revoked < end:
            end = revoked
        # Signing times often carry whole seconds: one in the second of the grant counts as after it.
        if start[:19] <= t[:19] and t < end:
            return True, reason("CERT_AUTHORIZED", not_before=start, not_after=end)
    if seen:
        return False, reason("CERT_AUTHORIZATION_NOT_COVERING", at=t)
    return False, reason("CERT_NOT_HOLDER_NOR_AUTHORIZED")


# -- status -> the report's check --------------------------------------------------------------------------

# ETSI EN 319 102-1 sub-indication for a seal that was not active at the signing time.
_AT_SIGNING_ETSI = {REVOKED: "REVOKED", SUSPENDED: "REVOKED", EXPIRED: "EXPIRED"}


def describe_status(
    status: str, since: str | None, at: str | None = None, status_at_t: str | None = None, note: str = ""
) -> str:
    """ "revoked now (since …), active at signing time (…)" — for error details and logs (English)."""
    text = f"{status} now" + (f" (since {since})" if since and status != ACTIVE else "")
    if at is not None:
        text += f", {status_at_t} at signing time ({at})"
    return text + (f" {note}" if note else "")


def status_check(
    body: Mapping[str, Any],
    status: str,
    since: str | None,
    at: str | None,
    status_at_t: str | None,
    *,
    cert_der: bytes | None = None,
    signed_at: datetime | None = None,
    produced_at: str | None = None,
    cached: bool = False,
) -> Check:
    """The report's platform_status: decided by the status at signing time when it is known, and, given the
    signer certificate, by whether it held or was authorized to use the seal then. Without a signing time an
    active seal is ok and any other status unknown (the seal may have been fine when it was used).
    Codes: PLATFORM_ACTIVE_AT_SIGNING / PLATFORM_NOT_ACTIVE_AT_SIGNING / PLATFORM_ACTIVE_NOW /
    PLATFORM_NOT_ACTIVE_NOW, each with now_status, since and produced_at (report warnings read them)."""
    common = {"now_status": status, "since": since if status != ACTIVE else None, "produced_at": produced_at}
    notes = [reason("PLATFORM_CACHED_ANSWER", produced_at=produced_at)] if cached else []
    if at is None:
        if status == ACTIVE:
            return Check.of("ok", [reason("PLATFORM_ACTIVE_NOW", **common), *notes])
        # Not active now and no time to say whether the use came before: ETSI's REVOKED_NO_POE.
        etsi = "REVOKED_NO_POE" if status in (REVOKED, SUSPENDED) else "SIG_CONSTRAINTS_FAILURE"
        return Check.of("unknown", [reason("PLATFORM_NOT_ACTIVE_NOW", etsi=etsi, **common), *notes])
    if status_at_t != ACTIVE:
        etsi = _AT_SIGNING_ETSI.get(str(status_at_t), "NOT_YET_VALID")
        first = reason("PLATFORM_NOT_ACTIVE_AT_SIGNING", at=at, at_status=status_at_t, etsi=etsi, **common)
        return Check.of("failed", [first, *notes])
    first = reason("PLATFORM_ACTIVE_AT_SIGNING", at=at, **common)
    if cert_der is not None and signed_at is not None:
        allowed, why = cert_use(body, cert_der, signed_at)
        if allowed is False and why is not None:
            return Check.of("failed", [why, first, *notes])
        if why is not None:
            notes.insert(0, why)
    return Check.of("ok", [first, *notes])


def body_check(
    body: Mapping[str, Any], cert_der: bytes | None = None, signed_at: datetime | None = None
) -> Check:
    """The platform_status check of a status body as the platform signs it (status/since now, at/status_at)."""
    at = body.get("at") if signed_at is not None else None
    return status_check(
        body,
        str(body["status"]),
        body.get("since"),
        at,
        body.get("status_at"),
        cert_der=cert_der,
        signed_at=signed_at,
        produced_at=body.get("produced_at"),
    )


def error_check(error_code: str, esid: str) -> Check:
    """The platform_status check when asking the platform failed with a SealBridgeError code."""
    if error_code == "SEAL_NOT_FOUND":
        return Check.unknown("PLATFORM_SEAL_NOT_REGISTERED", esid=esid)
    if error_code == "PLATFORM_RESPONSE_INVALID":
        return Check.failed("PLATFORM_RESPONSE_INVALID")
    return Check.unknown("PLATFORM_UNREACHABLE", error_code=error_code)


# -- the lookup a verifier is handed -----------------------------------------------------------------------


class StatusLookup(Protocol):
    """(esID, signing time or None[, signer certificate DER]) -> the platform_status check for that seal.
    Provided by the agent/CLI (over HTTP) or the platform (its database). A lookup that takes the third
    argument also checks the certificate held or was authorized to use the seal at that time; older
    two-argument lookups are still called without it (see `lookup_status`)."""

    def __call__(self, esid: str, signed_at: datetime | None, cert_der: bytes | None = None, /) -> Check: ...


def lookup_status(lookup: Any, esid: str, at: datetime | None, cert_der: bytes | None) -> Check:
    """Call `lookup`, with the signer certificate when it accepts one. Older lookups take (esID, time)
    only; passing them a third argument would raise, so the certificate is offered only where wanted."""
    if cert_der is not None and _takes_certificate(lookup):
        return lookup(esid, at, cert_der)
    return lookup(esid, at)


def _takes_certificate(lookup: Any) -> bool:
    try:
        params = list(inspect.signature(lookup).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable without a signature: the old form
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3
