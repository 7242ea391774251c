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

from stamping.report import Check

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
    (None, why) when the body does not say (a platform that predates holder_certs)."""
    holders = body.get("holder_certs")
    grants = body.get("authorizations")
    if not isinstance(holders, list) or not isinstance(grants, list):
        return None, "the platform's answer does not list who may use the seal"
    sha = hashlib.sha256(bytes(cert_der)).hexdigest()
    if sha in holders:
        return True, "the signer certificate holds the seal"
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
            return True, f"the signer certificate is authorized from {start} until {end}"
    if seen:
        return False, f"the signer certificate's authorization does not cover {t} (ended, withdrawn or later)"
    return False, "the signer certificate neither holds the seal nor is authorized to use it"


# -- status -> the report's check --------------------------------------------------------------------------


def describe_status(
    status: str, since: str | None, at: str | None = None, status_at_t: str | None = None, note: str = ""
) -> str:
    """ "revoked now (since …), active at signing time (…)" — the detail of the platform_status check."""
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
    note: str = "",
) -> Check:
    """The report's platform_status: decided by the status at signing time when it is known, and, given the
    signer certificate, by whether it held or was authorized to use the seal then. Without a signing time an
    active seal is ok and any other status unknown (the seal may have been fine when it was used)."""
    text = describe_status(status, since, at, status_at_t, note)
    if at is None:
        text += "; signing time unknown"
        return Check.ok(text) if status == ACTIVE else Check.unknown(text)
    if status_at_t != ACTIVE:
        return Check.failed(text)
    if cert_der is not None and signed_at is not None:
        allowed, why = cert_may_use(body, cert_der, signed_at)
        if allowed is False:
            return Check.failed(f"{text}; {why}")
    return Check.ok(text)


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
    )


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
