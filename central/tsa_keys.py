"""The time-stamp authority's keys (two chains under the platform's roots, one per algorithm family) and the
verification service's key (under the SM2 root).

SM3 requests are answered by an SM2 TSA key (GM/T 0033), SHA-2 requests by an ECDSA P-256 key, so that
PAdES B-T timestamps on RSA/ECDSA PDFs validate in stock PDF software that knows no SM2. Each TSA
certificate carries the critical id-kp-timeStamping EKU (RFC 3161 §2.3) and is issued by a platform root
CA of the same family; the roots are published with the other platform certificates (GET /api/v1/platform),
which is what verifiers trust. Created on first start next to the other platform keys (files, mode 0600).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from central.timeutil import utcnow
from formats.errors import SealBridgeError
from formats.gm import SM2PrivateKey
from formats.gm.keys import PrivateKey, key_matches_cert, load_private_key
from formats.x509 import build_certificate
from stamping.fileout import atomic_write


@dataclass(frozen=True)
class TsaKey:
    role: str
    key: PrivateKey
    cert_der: bytes
    root_der: bytes


_FAMILIES = {
    # family: (root role, TSA role, root subject, TSA subject)
    "sm2": (
        "root-sm2",
        "tsa-sm2",
        "SealBridge Central Root CA (平台根证书 SM2)",
        "SealBridge Central Time-Stamp Authority (时间戳服务 SM2)",
    ),
    "ecdsa": (
        "root-ecdsa",
        "tsa-ecdsa",
        "SealBridge Central Root CA (平台根证书 ECDSA)",
        "SealBridge Central Time-Stamp Authority (时间戳服务 ECDSA)",
    ),
}


def _new_key(family: str) -> PrivateKey:
    return SM2PrivateKey.generate() if family == "sm2" else ec.generate_private_key(ec.SECP256R1())


def _pem(key: PrivateKey) -> bytes:
    if isinstance(key, SM2PrivateKey):
        return key.to_pkcs8_pem()
    return key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _subject(cn: str, organization: str) -> dict[str, str]:
    return {"common_name": cn, "organization_name": organization, "country_name": "CN"}


def _load_or_create(key_dir: Path, family: str, organization: str) -> TsaKey:
    root_role, tsa_role, root_cn, tsa_cn = _FAMILIES[family]
    paths = [
        key_dir / f"{root_role}.key.pem",
        key_dir / f"{root_role}.cert.der",
        key_dir / f"{tsa_role}.key.pem",
        key_dir / f"{tsa_role}.cert.der",
    ]
    if all(p.exists() for p in paths):
        key = load_private_key(paths[2].read_bytes())
        cert, root = paths[3].read_bytes(), paths[1].read_bytes()
        if not key_matches_cert(key, cert):
            raise SealBridgeError("CERT_INVALID", f"{paths[2]}: the TSA key does not match its certificate")
        return TsaKey(tsa_role, key, cert, root)
    if any(p.exists() for p in paths):
        raise SealBridgeError("CERT_INVALID", f"{key_dir}: {family} TSA keys and certificates are incomplete")
    now = utcnow()
    root_key = _new_key(family)
    root = build_certificate(
        _subject(root_cn, organization),
        root_key,
        None,
        root_key,
        ca=True,
        path_len=0,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=7300),
    )
    tsa_key = _new_key(family)
    cert = build_certificate(
        _subject(tsa_cn, organization),
        tsa_key,
        root,
        root_key,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=3650),
        key_usage=["digital_signature", "non_repudiation"],
        ext_key_usage=["time_stamping"],
        ext_key_usage_critical=True,
    )
    for path, content in zip(paths, (_pem(root_key), root, _pem(tsa_key), cert), strict=True):
        atomic_write(path, content)
    return TsaKey(tsa_role, tsa_key, cert, root)


VERIFY_ROLE = "verify-sm2"
VERIFY_CN = "SealBridge Central Verification Service (电子印章验证服务)"


def load_verify_key(key_dir: Path, organization: str) -> TsaKey:
    """The verification service's SM2 key (signs the evidence reports the platform issues, Art. 28), issued by
    the SM2 platform root; created on first start after the TSA keys."""
    key_path, cert_path = key_dir / f"{VERIFY_ROLE}.key.pem", key_dir / f"{VERIFY_ROLE}.cert.der"
    root_der = (key_dir / "root-sm2.cert.der").read_bytes()
    if key_path.exists() and cert_path.exists():
        key = load_private_key(key_path.read_bytes())
        if not key_matches_cert(key, cert_path.read_bytes()):
            raise SealBridgeError("CERT_INVALID", f"{key_path}: the key does not match its certificate")
        return TsaKey(VERIFY_ROLE, key, cert_path.read_bytes(), root_der)
    root_key = load_private_key((key_dir / "root-sm2.key.pem").read_bytes())
    key = SM2PrivateKey.generate()
    now = utcnow()
    cert = build_certificate(
        _subject(VERIFY_CN, organization),
        key,
        root_der,
        root_key,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=3650),
        key_usage=["digital_signature", "non_repudiation"],
    )
    atomic_write(key_path, _pem(key))
    atomic_write(cert_path, cert)
    return TsaKey(VERIFY_ROLE, key, cert, root_der)


def load_tsa_keys(key_dir: Path, organization: str) -> dict[str, TsaKey]:
    """{"sm2": …, "ecdsa": …}."""
    return {family: _load_or_create(key_dir, family, organization) for family in _FAMILIES}


def root_role(family: str) -> str:
    return _FAMILIES[family][0]
