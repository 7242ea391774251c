"""May this certificate use this seal at this time? Answered from the central platform's signed status body.

Why the seal itself is not enough (Art. 12): granting an authorization re-makes the seal with the
authorized certificate in its certList, and that seal DER stays verifiable after the authorization ends or
is withdrawn — the maker signature is fine, signer-in-seal passes, the esID's status stays active. Only
the platform knows the authorization's window, so the status body lists `holder_certs` (SHA-256 hex of the
certificates the seal was made for) and `authorizations` ({cert_sha256, not_before, not_after,
revoked_at}, times in the platform's fixed-width UTC form, where string order is time order).

Used by the agent (refuse to stamp, platform_status at verification) and by the platform's own verify
endpoint; both may import stamping, neither may import the other.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from stamping.report import Reason, reason

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def platform_time(t: datetime) -> str:
    """The platform's time form: UTC, fixed width, microseconds (naive means UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime(_FMT)


def cert_may_use(body: dict[str, Any], cert_der: bytes, at: datetime) -> tuple[bool | None, str]:
    """(True, why) for a holder or a certificate authorized at `at`; (False, why) otherwise;
    (None, why) when the body does not say (a platform that predates holder_certs). `why` in English."""
    from stamping.messages import render

    allowed, why = cert_use(body, cert_der, at)
    if why is None:
        return allowed, "the platform's answer does not list who may use the seal"
    return allowed, render(why.code, why.params, "en")


def cert_use(body: dict[str, Any], cert_der: bytes, at: datetime) -> tuple[bool | None, Reason | None]:
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
