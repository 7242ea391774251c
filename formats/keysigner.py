"""KeySigner: a software Signer over a key held in memory (dev PKI, soft token, tests).

It has the shape of stamping.signer.Signer (certificate, chain, algorithm, sign) without importing
stamping: formats/ sits below stamping in the dependency order.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .errors import SealBridgeError
from .gm.keys import PrivateKey, key_algorithm, key_matches_cert
from .gm.sigverify import HASHES
from .gm.sm2 import SM2PrivateKey


def _hash(digest: str) -> hashes.HashAlgorithm:
    name = digest.lower().replace("-", "")
    if name not in HASHES:
        raise SealBridgeError("MECHANISM_UNSUPPORTED", f"digest {digest!r}")
    return HASHES[name]()


def sign_with_key(key: PrivateKey, data: bytes, digest: str = "sha256") -> bytes:
    """SM2: DER SM2-with-SM3 (digest ignored); RSA: PKCS#1 v1.5; ECDSA: DER — both with `digest`."""
    if isinstance(key, SM2PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), _hash(digest))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_hash(digest)))
    raise SealBridgeError("MECHANISM_UNSUPPORTED", f"key type {type(key).__name__}")


class KeySigner:
    """A Signer (stamping.signer.Signer) backed by an in-memory private key."""

    def __init__(
        self,
        key: PrivateKey,
        certificate: bytes | asn1_x509.Certificate,
        chain: Sequence[bytes | asn1_x509.Certificate] = (),
    ) -> None:
        cert_der = (
            certificate.dump() if isinstance(certificate, asn1_x509.Certificate) else bytes(certificate)
        )
        if not key_matches_cert(key, cert_der):
            raise SealBridgeError("CERT_INVALID", "the private key does not belong to the certificate")
        self.key = key
        self.certificate: bytes = cert_der
        self.chain: list[bytes] = [
            c.dump() if isinstance(c, asn1_x509.Certificate) else bytes(c) for c in chain
        ]
        self.algorithm = key_algorithm(key)

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        return sign_with_key(self.key, data, digest)

    def __repr__(self) -> str:
        return f"KeySigner(algorithm={self.algorithm!r})"
