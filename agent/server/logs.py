"""Structured logs: one JSON object a line. Callers pass names and small values only — never a PIN, a
secret, or document bytes (the fields are filtered here as a second line of defence)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

log = logging.getLogger("sealbridge.agent")

_FORBIDDEN = ("pin", "old_pin", "new_pin", "secret", "mac", "data", "document_bytes", "password")


def log_event(what: str, level: int = logging.INFO, **fields: Any) -> None:
    if not log.isEnabledFor(level):
        return
    clean: dict[str, Any] = {"ts": round(time.time(), 3), "event": what}
    for key, value in fields.items():
        if key in _FORBIDDEN or isinstance(value, bytes | bytearray | memoryview):
            continue
        if isinstance(value, str) and len(value) > 300:
            value = value[:300] + "…"
        clean[key] = value
    log.log(level, json.dumps(clean, ensure_ascii=False, default=str))


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
