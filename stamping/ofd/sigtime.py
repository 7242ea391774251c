"""SignatureDateTime as producers write it, as an aware datetime (a fallback when the signed value has no time).

Seen: "20200817111329Z", "20221031141634", "20201004072855.302Z", "2020-01-25 15:31:56". Without a zone the
producers (all Chinese) mean Beijing time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
_FORMATS = (
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
)


def parse_signature_datetime(text: str) -> datetime | None:
    value = (text or "").strip()
    if not value:
        return None
    zone = BEIJING
    if value.endswith("Z"):
        value, zone = value[:-1], UTC
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)
