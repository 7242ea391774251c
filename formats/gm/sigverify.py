"""verify_signature: one call for SM2-with-SM3, RSA (PKCS#1 v1.5 and PSS) and ECDSA signatures.

Used for certificate chains, seal-maker signatures and CMS signer infos. Any failure — wrong key type,
unknown algorithm, malformed signature — answers False; only an unusable key argument raises.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import algos, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .oids import SM2_SIGNATURE_OIDS
from .sm2 import SM2PrivateKey, SM2PublicKey

#: Digest names (asn1crypto's spelling) -> `cryptography` hash classes; shared with formats.keysigner.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sm3": hashes.SM3,
}

# signature algorithm OID -> (kind, digest name); digest None = given by parameters (PSS) or the caller
_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "1.2.840.113549.1.1.5": ("rsa", "sha1"),
    "1.2.840.113549.1.1.14": ("rsa", "sha224"),
    "1.2.840.113549.1.1.11": ("rsa", "sha256"),
    "1.2.840.113549.1.1.12": ("rsa", "sha384"),
    "1.2.840.113549.1.1.13": ("rsa", "sha512"),
    "1.2.840.113549.1.1.1": ("rsa", None),  # rsaEncryption as a CMS digestEncryptionAlgorithm
    "1.2.840.113549.1.1.10": ("rsa_pss", None),
    "1.2.840.10045.4.1": ("ecdsa", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa", "sha512"),
    "1.2.840.10045.2.1": ("ecdsa", None),  # id-ecPublicKey as a CMS digestEncryptionAlgorithm
}


def _resolve_key(key: Any) -> Any:
    from .keys import cert_public_key

    if isinstance(key, SM2PrivateKey):
        return key.public_key
    if isinstance(key, (bytes, bytearray, memoryview, x509.Certificate)):
        return cert_public_key(bytes(key) if not isinstance(key, x509.Certificate) else key)
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    return key


def _oid_and_params(sig_alg: Any) -> tuple[str, Any]:
    if isinstance(sig_alg, algos.SignedDigestAlgorithm):
        return sig_alg["algorithm"].dotted, sig_alg["parameters"]
    if isinstance(sig_alg, str) and not sig_alg[:1].isdigit():
        # An asn1crypto name such as 'sha256_rsa' or 'sm2_sm3'.
        return algos.SignedDigestAlgorithmId(sig_alg).dotted, None
    return str(sig_alg), None


def _pss_padding(params: Any) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    if params is None or params.native is None:
        return padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20), hashes.SHA1()
    hash_name = params["hash_algorithm"]["algorithm"].native
    mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
    salt = params["salt_length"].native
    return padding.PSS(mgf=padding.MGF1(HASHES[mgf_hash]()), salt_length=salt), HASHES[hash_name]()


def verify_signature(
    cert_or_key: Any, sig_alg: Any, data: bytes, signature: bytes, digest: str | None = None
) -> bool:
    """Whether `signature` over `data` verifies with the key of `cert_or_key`.

    cert_or_key: certificate (DER or asn1crypto), SM2PublicKey/SM2PrivateKey, or a `cryptography` key.
    sig_alg: dotted OID, asn1crypto algorithm name, or an asn1crypto SignedDigestAlgorithm (needed for
    RSASSA-PSS parameters). `digest` names the hash when the OID does not (rsaEncryption, ecPublicKey).
    """
    key = _resolve_key(cert_or_key)
    try:
        oid, params = _oid_and_params(sig_alg)
    except Exception:
        return False
    data, signature = bytes(data), bytes(signature)
    if oid in SM2_SIGNATURE_OIDS:
        return isinstance(key, SM2PublicKey) and key.verify(data, signature)
    kind, hash_name = _ALGORITHMS.get(oid, (None, None))
    hash_name = hash_name or digest
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey) and hash_name in HASHES:
            key.verify(signature, data, padding.PKCS1v15(), HASHES[hash_name]())
            return True
        if kind == "rsa_pss" and isinstance(key, rsa.RSAPublicKey):
            pss, hash_algo = _pss_padding(params)
            key.verify(signature, data, pss, hash_algo)
            return True
        if kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey) and hash_name in HASHES:
            key.verify(signature, data, ec.ECDSA(HASHES[hash_name]()))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, KeyError, TypeError):
        return False
    return False
