"""Building and summarising X.509 certificates, with SM2, RSA or ECDSA issuers.

One builder for every algorithm: the TBSCertificate is assembled with asn1crypto (cryptography's
CertificateBuilder can neither hold an SM2 subject key nor sign with SM2) and signed by the issuer key:
SM2-with-SM3 (1.2.156.10197.1.501, no parameters, as GM/T 0015 and OpenSSL write it), sha256WithRSA,
or ecdsa-with-SHA256/384 by curve size. Used for the dev PKI and tests, not for a production CA.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import SealBridgeError
from .gm.keys import (
    PrivateKey,
    PublicKey,
    key_algorithm,
    key_matches_cert,
    load_certificate,
    public_key_of,
)
from .gm.oids import OID_SM2_SM3, register_asn1crypto_oids
from .gm.sm2 import SM2PrivateKey, SM2PublicKey, is_sm2_spki
from .keysigner import sign_with_key

register_asn1crypto_oids()

DEFAULT_CA_KEY_USAGE = frozenset({"key_cert_sign", "crl_sign", "digital_signature"})
DEFAULT_LEAF_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})

# Short attribute names for RFC 4514-style strings in cert_summary.
_SHORT_NAMES = {
    "common_name": "CN",
    "country_name": "C",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "street_address": "STREET",
    "email_address": "emailAddress",
    "serial_number": "serialNumber",
    "domain_component": "DC",
    "surname": "SN",
    "given_name": "GN",
    "title": "title",
    "organization_identifier": "organizationIdentifier",
}


def _spki(key: PublicKey | PrivateKey) -> asn1_keys.PublicKeyInfo:
    if isinstance(key, SM2PrivateKey):
        key = key.public_key
    elif isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        key = key.public_key()
    if isinstance(key, SM2PublicKey):
        return key.to_spki()
    if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return asn1_keys.PublicKeyInfo.load(der)
    raise SealBridgeError("CERT_INVALID", f"unsupported subject key type {type(key).__name__}")


def key_identifier(spki: asn1_keys.PublicKeyInfo) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value."""
    return hashlib.sha1(bytes(spki["public_key"]), usedforsecurity=False).digest()


def _signature_algorithm(issuer_key: PrivateKey) -> tuple[dict[str, Any], str]:
    """(asn1crypto SignedDigestAlgorithm fields, digest name for sign_with_key)."""
    if isinstance(issuer_key, SM2PrivateKey):
        return {"algorithm": OID_SM2_SM3}, "sm3"
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return {"algorithm": "sha256_rsa", "parameters": None}, "sha256"
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        if issuer_key.curve.key_size > 256:
            return {"algorithm": "sha384_ecdsa"}, "sha384"
        return {"algorithm": "sha256_ecdsa"}, "sha256"
    raise SealBridgeError("CERT_INVALID", f"unsupported issuer key type {type(issuer_key).__name__}")


def _time(dt: datetime) -> asn1_x509.Time:
    # RFC 5280 §4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050.
    dt = dt.astimezone(UTC).replace(microsecond=0)
    return asn1_x509.Time(name="utc_time" if dt.year < 2050 else "general_time", value=dt)


def _name(subject: Mapping[str, str] | asn1_x509.Name) -> asn1_x509.Name:
    if isinstance(subject, asn1_x509.Name):
        return subject
    try:
        return asn1_x509.Name.build(dict(subject))
    except Exception as exc:
        raise SealBridgeError("BAD_REQUEST", f"bad certificate subject: {exc}") from exc


def _extension(name: str, value: Any, critical: bool = False) -> dict[str, Any]:
    return {"extn_id": name, "critical": critical, "extn_value": value}


def build_certificate(
    subject: Mapping[str, str] | asn1_x509.Name,
    public_key: PublicKey | PrivateKey,
    issuer_cert_der: bytes | None,
    issuer_key: PrivateKey,
    serial: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
    path_len: int | None = None,
    key_usage: Iterable[str] | None = None,
    ext_key_usage: Iterable[str] | None = None,
    ext_key_usage_critical: bool = False,
) -> bytes:
    """A DER X.509 v3 certificate for `public_key`, signed by `issuer_key`.

    issuer_cert_der None means self-signed (then `public_key` must be `issuer_key`'s). key_usage takes
    asn1crypto KeyUsage names (digital_signature, non_repudiation, key_cert_sign, crl_sign, ...);
    ext_key_usage names or dotted OIDs (client_auth, email_protection, ...); a TSA certificate needs it
    critical (RFC 3161 §2.3).
    """
    spki = _spki(public_key)
    subject_name = _name(subject)
    if issuer_cert_der is None:
        if spki.dump() != _spki(issuer_key).dump():
            raise SealBridgeError("CERT_INVALID", "self-signed: the subject key must be the issuer key")
        issuer_name = subject_name
        issuer_ski = key_identifier(spki)
    else:
        issuer_cert = load_certificate(issuer_cert_der)
        if not key_matches_cert(issuer_key, issuer_cert):
            raise SealBridgeError("CERT_INVALID", "the issuer key does not belong to the issuer certificate")
        issuer_name = issuer_cert.subject
        issuer_ski = issuer_cert.key_identifier or key_identifier(issuer_cert.public_key)
    now = datetime.now(UTC)
    not_before = not_before or (now - timedelta(minutes=5))
    not_after = not_after or (not_before + timedelta(days=3650 if ca else 730))
    if not_after <= not_before:
        raise SealBridgeError("BAD_REQUEST", "not_after must be later than not_before")
    if serial is None:
        serial = secrets.randbits(127) | (1 << 126)  # positive, 16 bytes, no leading zero
    usage = (
        set(key_usage)
        if key_usage is not None
        else set(DEFAULT_CA_KEY_USAGE if ca else DEFAULT_LEAF_KEY_USAGE)
    )

    basic: dict[str, Any] = {"ca": ca}
    if ca and path_len is not None:
        basic["path_len_constraint"] = path_len
    extensions = [
        _extension("basic_constraints", basic, critical=True),
        _extension("key_usage", usage, critical=True),
        _extension("key_identifier", key_identifier(spki)),
        _extension("authority_key_identifier", {"key_identifier": issuer_ski}),
    ]
    if ext_key_usage:
        extensions.append(
            _extension("extended_key_usage", list(ext_key_usage), critical=ext_key_usage_critical)
        )

    sig_alg, digest = _signature_algorithm(issuer_key)
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": sig_alg,
            "issuer": issuer_name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": spki,
            "extensions": extensions,
        }
    )
    tbs_der = tbs.dump()
    signature = sign_with_key(issuer_key, tbs_der, digest)
    cert = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": signature}
    )
    return cert.dump()


def name_to_string(name: asn1_x509.Name) -> str:
    """RFC 4514-like string, most significant RDN first as people read it (CN=…,O=…,C=CN)."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        for attr in rdn:
            type_name = attr["type"].native
            short = _SHORT_NAMES.get(type_name, attr["type"].dotted)
            value = attr["value"].native
            text = str(value).replace("\\", "\\\\").replace(",", "\\,").replace("+", "\\+")
            parts.append(f"{short}={text}")
    return ",".join(parts)


def _common_name(name: asn1_x509.Name) -> str | None:
    cn = name.native.get("common_name")
    if isinstance(cn, list):
        return str(cn[-1])
    return str(cn) if cn is not None else None


def cert_summary(cert_der: bytes | asn1_x509.Certificate) -> dict[str, Any]:
    """A JSON-ready description of a certificate (for CLI output, reports and pages)."""
    cert = cert_der if isinstance(cert_der, asn1_x509.Certificate) else load_certificate(cert_der)
    tbs = cert["tbs_certificate"]
    spki = tbs["subject_public_key_info"]
    if is_sm2_spki(spki):
        key_alg, bits = "sm2", 256
    else:
        algo = spki.algorithm
        key_alg = {"rsa": "rsa", "ec": "ecdsa", "rsassa_pss": "rsa"}.get(algo, algo)
        try:
            bits = spki.bit_size
        except Exception:
            bits = None
    sig_oid = cert["signature_algorithm"]["algorithm"]
    validity = tbs["validity"]
    basic = cert.basic_constraints_value
    return {
        "subject": name_to_string(cert.subject),
        "subject_cn": _common_name(cert.subject),
        "issuer": name_to_string(cert.issuer),
        "issuer_cn": _common_name(cert.issuer),
        "serial": format(tbs["serial_number"].native, "x"),
        "not_before": validity["not_before"].native.isoformat(),
        "not_after": validity["not_after"].native.isoformat(),
        "key_algorithm": key_alg,
        "key_bits": bits,
        "signature_algorithm": sig_oid.native if sig_oid.native != sig_oid.dotted else sig_oid.dotted,
        "signature_algorithm_oid": sig_oid.dotted,
        "is_ca": bool(basic and basic["ca"].native),
        "self_issued": cert.self_issued,
        "sha256": hashlib.sha256(cert.dump()).hexdigest(),
    }


__all__ = [
    "DEFAULT_CA_KEY_USAGE",
    "DEFAULT_LEAF_KEY_USAGE",
    "build_certificate",
    "cert_summary",
    "key_algorithm",
    "key_identifier",
    "name_to_string",
    "public_key_of",
]
