"""Self-signed P-256 certificates made with `cryptography` only (independent of formats.x509)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


def self_signed_ecdsa(
    cn: str = "test signer", dns_names: tuple[str, ...] = ()
) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A P-256 key and its self-signed certificate (DER), valid from five minutes ago for 30 days; with
    `dns_names`, a subjectAltName naming them (a TLS server's)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if dns_names:
        san = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names])
        builder = builder.add_extension(san, critical=False)
    return key, builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)
