"""Helpers of the batch tests: checking a stamped output, counting PIN logins on the token."""

from __future__ import annotations

from typing import Any

import pytest


def verify_output(data: bytes) -> tuple[str, str]:
    from stamping.options import VerifyOptions

    if data.startswith(b"%PDF"):
        from stamping.pdf.verify import verify
    else:
        from stamping.ofd.verify import verify
    seal = verify(data, VerifyOptions(trust_anchors=[])).seals[-1]
    return seal.checks["integrity"].status, seal.checks["signature"].status


def count_logins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts PIN logins on the soft token (its real login runs; only counted)."""
    from agent.tokens.soft import SoftToken

    calls = [0]
    real = SoftToken._login

    def counted(self: Any, pin: str) -> Any:
        calls[0] += 1
        return real(self, pin)

    monkeypatch.setattr(SoftToken, "_login", counted)
    return calls
