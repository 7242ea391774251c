"""SM2/SM3 (Chinese commercial cryptography) for SealBridge: hashing, signatures, keys, certificates.

SM3 runs on OpenSSL (formats.dochash: hashlib, or `cryptography` where that OpenSSL lacks SM3); SM2 on tongsuopy,
with pure-Python gmssl as the fallback backend.
"""

from __future__ import annotations

from .curve import sm2_digest, z_value
from .keys import (
    cert_public_key,
    key_algorithm,
    key_matches_cert,
    load_certificate,
    load_certificates,
    load_pkcs12,
    load_private_key,
    verify_signature,
)
from .oids import (
    DEFAULT_ID,
    OID_EC_PUBLIC_KEY,
    OID_GM_DATA,
    OID_GM_SIGNED_DATA,
    OID_SM2,
    OID_SM2_SIGN,
    OID_SM2_SM3,
    OID_SM3,
    SM2_SIGNATURE_OIDS,
    register_asn1crypto_oids,
)
from .sigcodec import der_to_raw, raw_to_der, to_der
from .sm2 import SM2PrivateKey, SM2PublicKey, available_backends, default_backend, is_sm2_spki
from .sm3 import SM3Hasher, sm3, sm3_file, sm3_stream

register_asn1crypto_oids()

__all__ = [
    "DEFAULT_ID",
    "OID_EC_PUBLIC_KEY",
    "OID_GM_DATA",
    "OID_GM_SIGNED_DATA",
    "OID_SM2",
    "OID_SM2_SIGN",
    "OID_SM2_SM3",
    "OID_SM3",
    "SM2_SIGNATURE_OIDS",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SM3Hasher",
    "available_backends",
    "cert_public_key",
    "key_algorithm",
    "key_matches_cert",
    "load_certificate",
    "load_certificates",
    "load_pkcs12",
    "load_private_key",
    "verify_signature",
    "default_backend",
    "der_to_raw",
    "is_sm2_spki",
    "raw_to_der",
    "register_asn1crypto_oids",
    "sm2_digest",
    "sm3",
    "sm3_file",
    "sm3_stream",
    "to_der",
    "z_value",
]
