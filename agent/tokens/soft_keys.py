"""Key and certificate helpers of the soft token: algorithm, key id, PKCS#8 (de)serialisation, key/cert match.

Kept apart from the file format (agent.tokens.soft) so each module has one job; the key handling itself is
formats.gm.keys (SM2 keys are not `cryptography` keys).
"""

from __future__ import annotations

import hashlib
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from formats.errors import SealBridgeError
from formats.gm.keys import cert_public_key, key_algorithm, key_matches_cert, load_private_key


def parse_certificate(cert_der: bytes) -> asn1_x509.Certificate:
    try:
        cert = asn1_x509.Certificate.load(bytes(cert_der))
        cert["tbs_certificate"]["subject_public_key_info"].native  # noqa: B018 - force a full parse
    except (ValueError, TypeError) as exc:
        raise SealBridgeError("CERT_INVALID", f"cannot parse certificate: {exc}") from None
    return cert


def certificate_algorithm(cert_der: bytes) -> str:
    """ "sm2" | "rsa" | "ecdsa" from the certificate's public key."""
    return key_algorithm(cert_public_key(parse_certificate(cert_der)))


def key_id_for_certificate(cert_der: bytes) -> str:
    """A stable key id: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), as CKA_ID often is."""
    spki = parse_certificate(cert_der)["tbs_certificate"]["subject_public_key_info"]
    bits = bytes(spki["public_key"].contents[1:])  # BIT STRING contents minus the unused-bits byte
    return hashlib.sha1(bits).hexdigest()


def check_key_matches_certificate(key: Any, cert_der: bytes) -> None:
    if not key_matches_cert(key, parse_certificate(cert_der)):
        raise SealBridgeError("KEY_NOT_FOUND", "the private key does not match the certificate's public key")


def key_to_pkcs8(key: Any) -> bytes:
    """Unencrypted PKCS#8 DER of a private key (the caller encrypts it before it touches disk)."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    if hasattr(key, "to_pkcs8_der"):
        return key.to_pkcs8_der()
    raise SealBridgeError("MECHANISM_UNSUPPORTED", f"unsupported private key type {type(key).__name__}")


def key_from_pkcs8(der: bytes) -> Any:
    return load_private_key(der)
