"""Times as stored and sent by the platform: UTC, fixed width, microseconds (`2026-01-02T03:04:05.000000Z`).

Fixed width makes string order equal time order in SQL; microseconds keep a stamp made a moment before a
revocation on the right side of it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from formats.errors import SealBridgeError
from stamping.platform_status import platform_time


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    # The same form the agent compares against (stamping.platform_status): one definition for both sides.
    return platform_time(t)


def parse_time(value: str, what: str = "time") -> datetime:
    """Parse ISO 8601 from a client (date only, with offset or Z); naive means UTC."""
    if not isinstance(value, str) or not 8 <= len(value) <= 40:
        raise SealBridgeError("BAD_REQUEST", f"{what}: expected an ISO 8601 time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise SealBridgeError("BAD_REQUEST", f"{what}: not an ISO 8601 time: {value!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def norm(value: str, what: str = "time") -> str:
    """A client time string in the stored form."""
    return iso(parse_time(value, what))
