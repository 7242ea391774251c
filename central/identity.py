"""The platform's own keys: the maker key that signs SESeals and the status key that signs status answers.

Two SM2 keys with self-signed certificates, kept as files in the key directory (PKCS#8 PEM, mode 0600) and
created on first start. Keys stay separate so the status key, used on every query, can be rotated without
touching the seals already made. Every certificate the platform has used is recorded in `platform_certs`,
so old signed answers stay checkable after a rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from central.certs import cert_sha256
from central.db import Tx
from central.timeutil import iso, utcnow
from central.tsa_keys import TsaKey, load_tsa_keys, load_verify_key, root_role
from formats.errors import SealBridgeError
from formats.gm import SM2PrivateKey
from formats.gm.keys import load_private_key
from formats.x509 import build_certificate
from stamping.fileout import atomic_write

ROLES = ("maker", "status")
SUBJECTS = {
    "maker": "SealBridge Central Seal Maker (电子印章制章)",
    "status": "SealBridge Central Status Responder (电子印章状态)",
}


@dataclass
class KeyPair:
    role: str
    key: SM2PrivateKey
    cert_der: bytes

    @property
    def cert_sha256(self) -> str:
        return cert_sha256(self.cert_der)


@dataclass
class PlatformIdentity:
    maker: KeyPair
    status: KeyPair
    tsa: dict[str, TsaKey] = field(default_factory=dict)  # "sm2" / "ecdsa" -> the time-stamp key
    verifier: TsaKey | None = None  # signs the evidence reports the verification service issues

    def certificates(self) -> list[KeyPair]:
        return [self.maker, self.status]

    def published(self) -> list[tuple[str, bytes]]:
        """(role, certificate DER) of every certificate the platform currently uses, TSA chains included."""
        out = [(p.role, p.cert_der) for p in self.certificates()]
        for family, t in self.tsa.items():
            out += [(root_role(family), t.root_der), (t.role, t.cert_der)]
        if self.verifier is not None:
            out.append((self.verifier.role, self.verifier.cert_der))
        return out


def _load_or_create(key_dir: Path, role: str, organization: str) -> KeyPair:
    key_path = key_dir / f"{role}.key.pem"
    cert_path = key_dir / f"{role}.cert.der"
    if key_path.exists() and cert_path.exists():
        key = load_private_key(key_path.read_bytes())
        if not isinstance(key, SM2PrivateKey):
            raise SealBridgeError("CERT_INVALID", f"{key_path}: the platform {role} key must be SM2")
        return KeyPair(role, key, cert_path.read_bytes())
    if key_path.exists() or cert_path.exists():
        raise SealBridgeError("CERT_INVALID", f"{key_dir}: {role} key and certificate must both exist")
    key = SM2PrivateKey.generate()
    now = utcnow()
    cert = build_certificate(
        {"common_name": SUBJECTS[role], "organization_name": organization, "country_name": "CN"},
        key.public_key,
        None,
        key,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=3650),
        key_usage=["digital_signature", "non_repudiation"],
    )
    atomic_write(key_path, key.to_pkcs8_pem())
    atomic_write(cert_path, cert)
    return KeyPair(role, key, cert)


def load_identity(key_dir: str | Path, organization: str = "SealBridge Central Platform") -> PlatformIdentity:
    key_dir = Path(key_dir)
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pairs = {role: _load_or_create(key_dir, role, organization) for role in ROLES}
    tsa = load_tsa_keys(key_dir, organization)
    return PlatformIdentity(
        maker=pairs["maker"],
        status=pairs["status"],
        tsa=tsa,
        verifier=load_verify_key(key_dir, organization),
    )


def record_certificates(tx: Tx, identity: PlatformIdentity) -> None:
    for role, der in identity.published():
        sha = cert_sha256(der)
        if tx.one("SELECT 1 FROM platform_certs WHERE sha256 = ?", (sha,)) is None:
            tx.execute(
                "INSERT INTO platform_certs (sha256, role, cert_der, created_at) VALUES (?, ?, ?, ?)",
                (sha, role, der, iso(utcnow())),
            )


def platform_certificates(tx: Tx) -> list[dict[str, object]]:
    rows = tx.execute(
        "SELECT sha256, role, cert_der, created_at FROM platform_certs ORDER BY created_at, sha256"
    )
    return [{"sha256": r[0], "role": r[1], "cert_der": bytes(r[2]), "created_at": r[3]} for r in rows]
