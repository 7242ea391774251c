"""Usage records signed the way the agent signs them (stamping/usage_record.py), for platform tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from formats.keysigner import KeySigner
from stamping.platform_status import platform_time
from stamping.usage_record import sign_record


def signed_usage(key: Any, cert: bytes, esid: str, **fields: Any) -> dict[str, Any]:
    """A stamp record for `esid` signed with `key` (whose certificate is `cert`); `fields` override."""
    rec = {
        "id": uuid.uuid4().hex,
        "esID": esid,
        "action": "stamp",
        "at": platform_time(datetime.now(UTC)),
    } | fields
    return sign_record(rec, KeySigner(key, cert))
