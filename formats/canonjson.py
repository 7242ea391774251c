"""Canonical JSON bytes: what the central platform signs (status answers), what the agent re-derives to
verify them, and what the platform's audit chain hashes. One implementation for both sides, so signer and
verifier cannot drift apart; it lives in formats because it is a wire format and both central and agent
may import formats.

Rules (documented in docs/central.md so other clients can verify): UTF-8, keys sorted by code point, no
insignificant whitespace, non-ASCII characters as themselves, values limited to strings, integers, booleans,
null, lists and objects (no floats, so no number formatting ambiguity).
"""

from __future__ import annotations

import json
from typing import Any


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("object keys must be strings")
            _check(v)
    elif isinstance(value, list):
        for v in value:
            _check(v)


def canonical_json(value: Any) -> bytes:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
