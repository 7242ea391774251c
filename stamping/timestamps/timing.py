"""What a verified time-stamp proves about a seal's signing time (report fields shared by OFD and PDF).

With a verified token the signing time is its genTime (`signing_time_source` "tsa", `best_signature_time`:
the signature existed no later than this). The signer's own claimed time should be earlier; a claim later
than genTime (beyond the token's one-second accuracy and clock skew) is impossible for an honest signer and
is flagged as a warning.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

TOLERANCE = timedelta(seconds=2)  # genTime is truncated to the second, accuracy ±1 s


def tsa_time_fields(gen_time: datetime, claimed: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "signing_time_source": "tsa",
        "signing_time_detail": "genTime of a verified RFC 3161 token",
        "best_signature_time": gen_time.isoformat(),
    }
    if claimed is not None and claimed > gen_time + TOLERANCE:
        out["claimed_time_after_timestamp"] = claimed.isoformat()
        out["time_warning"] = (
            f"the signer claims {claimed.isoformat()}, later than the time-stamp {gen_time.isoformat()}"
        )
    return out
