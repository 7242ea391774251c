"""Fixtures of the soft token / dev PKI tests (the session-wide `dev_pki` is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.selfsigned import self_signed_ecdsa

PIN = "123456"


@pytest.fixture
def pin() -> str:
    """The PIN of the test tokens (and of the dev PKI tokens)."""
    return PIN


@pytest.fixture
def make_ecdsa_cert():
    """Factory: (P-256 key, self-signed certificate DER) for a common name."""
    return self_signed_ecdsa


@pytest.fixture
def ecdsa_token(tmp_path: Path):
    from agent.tokens.soft import SoftKeyEntry, SoftToken

    key, cert = self_signed_ecdsa()
    path = tmp_path / "t.soft"
    token = SoftToken.create(path, PIN, keys=[SoftKeyEntry(key, cert, [])])
    return token, key, cert
