"""Loading private keys, certificates and PKCS#12 files, for SM2 as well as RSA/ECDSA.

`cryptography` cannot load SM2 keys at all, so SM2 keys (SEC1 or PKCS#8, PEM or DER) are parsed with
asn1crypto and become SM2PrivateKey; every other key goes to `cryptography`. Certificates are
asn1crypto objects (they load whatever the key algorithm).
"""

from __future__ import annotations

from typing import Any

from asn1crypto import cms, core, keys, pem, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..errors import SealBridgeError
from .oids import OID_EC_PUBLIC_KEY, OID_SM2, register_asn1crypto_oids
from .sigverify import verify_signature
from .sm2 import SM2PrivateKey, SM2PublicKey, is_sm2_spki

register_asn1crypto_oids()

PrivateKey = SM2PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = SM2PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_KEY_PEM_TYPES = {"PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY"}


def _password_str(password: bytes | str | None) -> str | None:
    if password is None:
        return None
    return password.decode("utf-8") if isinstance(password, bytes) else password


def _malformed(what: str, exc: Exception | None = None) -> SealBridgeError:
    return SealBridgeError("DOC_MALFORMED", f"{what}: {exc}" if exc else what)


def _is_sm2_params(params: Any) -> bool:
    return (
        params is not None
        and not isinstance(params, core.Void)
        and getattr(params, "name", None) == "named"
        and params.chosen.dotted == OID_SM2
    )


def _sm2_from_ec_private_key(ec_key: keys.ECPrivateKey) -> SM2PrivateKey:
    d = ec_key["private_key"].native
    key = SM2PrivateKey(d)
    embedded = ec_key["public_key"]
    if embedded.native is not None:
        try:
            stated = SM2PublicKey.from_point(bytes(embedded))
        except ValueError as exc:
            raise _malformed("SM2 key has an invalid public point", exc) from exc
        if stated != key.public_key:
            raise _malformed("SM2 key: the public point does not belong to the private scalar")
    return key


def _from_pkcs8(der: bytes) -> PrivateKey:
    info = keys.PrivateKeyInfo.load(der)
    alg = info["private_key_algorithm"]
    oid = alg["algorithm"].dotted
    if oid == OID_SM2 or (oid == OID_EC_PUBLIC_KEY and _is_sm2_params(alg["parameters"])):
        # Parse the inner ECPrivateKey ourselves: asn1crypto's 'parsed' needs the curve's key size.
        return _sm2_from_ec_private_key(keys.ECPrivateKey.load(info["private_key"].contents))
    return serialization.load_der_private_key(der, password=None)  # type: ignore[return-value]


def _from_sec1(der: bytes) -> PrivateKey:
    ec_key = keys.ECPrivateKey.load(der)
    params = ec_key["parameters"]
    if _is_sm2_params(params):
        return _sm2_from_ec_private_key(ec_key)
    if (params.native is None) and ec_key["public_key"].native is not None:
        # No curve stated: it is SM2 if the stated public point is SM2's point for d.
        try:
            return _sm2_from_ec_private_key(ec_key)
        except (SealBridgeError, ValueError):
            pass
    return serialization.load_der_private_key(der, password=None)  # type: ignore[return-value]


def _load_der_key(der: bytes, password: str | None) -> PrivateKey:
    # Try the shapes in order of how often we meet them; each parser is strict enough to refuse others.
    try:
        epki = keys.EncryptedPrivateKeyInfo.load(der)
        epki["encryption_algorithm"]["algorithm"].native  # noqa: B018 - force a parse
        encrypted = bool(epki["encrypted_data"].native) and len(epki) == 2
    except Exception:
        encrypted = False
    if encrypted:
        if password is None:
            raise SealBridgeError("PASSWORD_INCORRECT", "the key is encrypted: a password is needed")
        try:
            from .pkcs12 import decrypt  # the ciphers load only for an encrypted key

            plain = decrypt(epki["encryption_algorithm"], epki["encrypted_data"].native, password)
        except ValueError as exc:
            raise SealBridgeError("PASSWORD_INCORRECT", f"cannot decrypt the key: {exc}") from exc
        return _load_der_key(plain, None)
    for parser in (_from_pkcs8, _from_sec1):
        try:
            return parser(der)
        except SealBridgeError:
            raise
        except Exception:
            continue
    try:
        return serialization.load_der_private_key(der, password=None)  # type: ignore[return-value]
    except Exception as exc:
        raise _malformed("not a private key (PKCS#8, SEC1 or PKCS#1)", exc) from exc


def load_private_key(data: bytes, password: bytes | str | None = None) -> PrivateKey:
    """An SM2PrivateKey, or a `cryptography` RSA/EC private key, from PEM or DER (SEC1, PKCS#8, PKCS#1).

    Encrypted PKCS#8 (PBES2 or PKCS#12 PBEs) needs `password`; wrong one → PASSWORD_INCORRECT.
    """
    pw = _password_str(password)
    data = bytes(data)
    if pem.detect(data):
        try:
            blocks = list(pem.unarmor(data, multiple=True))
        except Exception as exc:
            raise _malformed("broken PEM", exc) from exc
        for type_name, headers, der in blocks:
            if type_name not in _KEY_PEM_TYPES:
                continue  # e.g. "EC PARAMETERS" before the key
            if headers.get("Proc-Type", "").startswith("4,ENCRYPTED"):
                # Legacy OpenSSL PEM encryption: only cryptography understands it (not for SM2).
                try:
                    return serialization.load_pem_private_key(  # type: ignore[return-value]
                        data, password=pw.encode() if pw is not None else None
                    )
                except (TypeError, ValueError) as exc:
                    raise SealBridgeError("PASSWORD_INCORRECT", f"cannot decrypt the PEM key: {exc}") from exc
            return _load_der_key(der, pw)
        raise _malformed("no private key in the PEM data")
    return _load_der_key(data, pw)


def load_certificate(data: bytes) -> x509.Certificate:
    """The first X.509 certificate in PEM or DER `data` (asn1crypto; SM2 certificates load too)."""
    certs = load_certificates(data)
    if not certs:
        raise _malformed("no certificate found")
    return certs[0]


def _parse_cert(der: bytes) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(der)
        cert["tbs_certificate"]["subject_public_key_info"]["algorithm"].native  # noqa: B018 - force a parse
        cert["tbs_certificate"]["serial_number"].native  # noqa: B018
        cert["signature_value"].native  # noqa: B018
    except Exception as exc:
        raise _malformed("not an X.509 certificate", exc) from exc
    return cert


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in PEM (one or many), a DER certificate, or a certs-only PKCS#7/CMS bundle."""
    data = bytes(data)
    if pem.detect(data):
        try:
            blocks = list(pem.unarmor(data, multiple=True))
        except Exception as exc:
            raise _malformed("broken PEM", exc) from exc
        out = []
        for type_name, _headers, der in blocks:
            if type_name in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
                out.append(_parse_cert(der))
            elif type_name in ("PKCS7", "CMS"):
                out.extend(_certs_from_pkcs7(der))
        return out
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].native in ("signed_data", "gm_signed_data"):
            return _certs_from_pkcs7(data)
    except Exception:
        pass
    return [_parse_cert(data)]


def _certs_from_pkcs7(der: bytes) -> list[x509.Certificate]:
    try:
        info = cms.ContentInfo.load(der)
        certs = info["content"]["certificates"]
        return [_parse_cert(c.chosen.dump()) for c in certs or [] if c.name == "certificate"]
    except SealBridgeError:
        raise
    except Exception as exc:
        raise _malformed("not a PKCS#7 certificate bundle", exc) from exc


def _as_cert(cert: bytes | x509.Certificate) -> x509.Certificate:
    return cert if isinstance(cert, x509.Certificate) else load_certificate(cert)


def spki_public_key(spki: keys.PublicKeyInfo) -> PublicKey:
    """SM2PublicKey for an SM2 SPKI, else a `cryptography` public key."""
    if is_sm2_spki(spki):
        try:
            return SM2PublicKey.from_spki(spki)
        except ValueError as exc:
            raise SealBridgeError("CERT_INVALID", f"SM2 public key: {exc}") from exc
    try:
        return serialization.load_der_public_key(spki.dump())  # type: ignore[return-value]
    except Exception as exc:
        raise SealBridgeError("CERT_INVALID", f"unsupported public key: {exc}") from exc


def cert_public_key(cert: bytes | x509.Certificate) -> PublicKey:
    """The certificate's public key: SM2PublicKey for SM2 certificates, a `cryptography` key otherwise."""
    return spki_public_key(_as_cert(cert)["tbs_certificate"]["subject_public_key_info"])


def public_key_of(key: PrivateKey) -> PublicKey:
    return key.public_key if isinstance(key, SM2PrivateKey) else key.public_key()


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    """Whether two public keys (SM2 or cryptography) are the same key."""
    if isinstance(a, SM2PublicKey) or isinstance(b, SM2PublicKey):
        return a == b
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def key_matches_cert(key: PrivateKey, cert: bytes | x509.Certificate) -> bool:
    return same_public_key(public_key_of(key), cert_public_key(cert))


def key_algorithm(key: PrivateKey | PublicKey) -> str:
    """'sm2', 'rsa' or 'ecdsa' (the Signer algorithm names)."""
    if isinstance(key, (SM2PrivateKey, SM2PublicKey)):
        return "sm2"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ecdsa"
    raise SealBridgeError("CERT_INVALID", f"unsupported key type {type(key).__name__}")


def load_pkcs12(data: bytes, password: bytes | str | None) -> tuple[PrivateKey, bytes, list[bytes]]:
    """(private key, its certificate DER, the other certificates DER) from a PKCS#12 file.

    The certificate is the one whose public key matches the key; the chain keeps the file's order
    with the leaf removed.
    """
    from .pkcs12 import read_pkcs12  # the ciphers load only for a PKCS#12 file

    contents = read_pkcs12(bytes(data), _password_str(password) or "")
    if not contents.keys:
        raise SealBridgeError("KEY_NOT_FOUND", "the PKCS#12 file holds no private key")
    key_der, _key_id = contents.keys[0]
    key = _load_der_key(key_der, None)
    pub = public_key_of(key)
    leaf: bytes | None = None
    chain: list[bytes] = []
    for cert_der, _cert_id in contents.certs:
        if leaf is None and same_public_key(cert_public_key(cert_der), pub):
            leaf = cert_der
        else:
            chain.append(cert_der)
    if leaf is None:
        raise SealBridgeError("KEY_NOT_FOUND", "no certificate in the PKCS#12 file matches its key")
    return key, leaf, chain


__all__ = [
    "PrivateKey",
    "PublicKey",
    "cert_public_key",
    "key_algorithm",
    "key_matches_cert",
    "load_certificate",
    "load_certificates",
    "load_pkcs12",
    "load_private_key",
    "public_key_of",
    "same_public_key",
    "spki_public_key",
    "verify_signature",
]
