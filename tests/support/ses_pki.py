"""Fresh SM2 keys with minimal certificates and a software signer over them (seal tests)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, x509

from formats.gm import OID_SM2_SM3, SM2PrivateKey

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_sm2_cert(
    key: SM2PrivateKey, cn: str, issuer_key: SM2PrivateKey | None = None, issuer_cn: str | None = None
) -> bytes:
    """A minimal SM2-signed X.509 certificate (self-signed unless an issuer is given)."""
    issuer_key = issuer_key or key
    name = x509.Name.build({"common_name": cn, "organization_name": "SealBridge Test"})
    issuer = x509.Name.build({"common_name": issuer_cn or cn, "organization_name": "SealBridge Test"})
    sig_alg = algos.SignedDigestAlgorithm({"algorithm": OID_SM2_SM3})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(secrets.token_bytes(8), "big"),
            "signature": sig_alg,
            "issuer": issuer,
            "validity": {
                "not_before": x509.Time(name="utc_time", value=T0 - timedelta(days=1)),
                "not_after": x509.Time(name="utc_time", value=T0 + timedelta(days=3650)),
            },
            "subject": name,
            "subject_public_key_info": key.public_key.to_spki(),
        }
    )
    signature = issuer_key.sign(tbs.dump())
    return x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": signature}
    ).dump()


@dataclass
class SoftSm2Signer:
    """A software Signer (the stamping.signer.Signer shape) over an SM2 key."""

    key: SM2PrivateKey
    certificate: bytes
    chain: list[bytes] = field(default_factory=list)
    algorithm: str = "sm2"

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        return self.key.sign(data)


@dataclass
class Pki:
    maker_key: SM2PrivateKey
    maker_cert: bytes
    signer: SoftSm2Signer
    other_signer: SoftSm2Signer


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
