"""Fixtures of the soft token / dev PKI tests (the session-wide `dev_pki` is in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PIN = "123456"


def self_signed_ecdsa(cn: str = "test signer") -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A P-256 key with a self-signed certificate, made with `cryptography` only (independent of formats.x509)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return key, cert.public_bytes(Encoding.DER)


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
