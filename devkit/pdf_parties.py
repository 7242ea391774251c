"""SM2, RSA and ECDSA signers from small test CAs, and seals bound to them (PDF tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from formats.gm import SM2PrivateKey
from formats.keysigner import KeySigner
from formats.ses.build import build_seal_v4
from formats.x509 import build_certificate

NOW = datetime.now(UTC).replace(microsecond=0)
SEAL_MM = 40


@dataclass
class Party:
    """A signer, the root certificate of its CA, and a seal bound to its certificate."""

    signer: KeySigner
    root: bytes
    seal: bytes


def _key(kind: str):  # type: ignore[no-untyped-def]
    if kind == "sm2":
        return SM2PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_party(kind: str, seal_maker, picture_png: bytes, **seal_kwargs) -> Party:  # type: ignore[no-untyped-def]
    ca_key = _key(kind)
    root = build_certificate({"common_name": f"Test {kind.upper()} Root"}, ca_key, None, ca_key, ca=True)
    leaf_key = _key(kind)
    leaf = build_certificate(
        {"common_name": f"Test {kind.upper()} Signer", "organization_name": "示例科技有限公司"},
        leaf_key,
        root,
        ca_key,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=365),
    )
    maker_key, maker_cert = seal_maker
    params = {
        "esid": f"11010000{kind.upper()}0001",
        "name": "示例科技有限公司合同专用章",
        "seal_type": 2,
        "vid": "SealBridgeTest",
        "certs": [leaf],
        "picture": ("png", picture_png, SEAL_MM, SEAL_MM),
        "valid_start": NOW - timedelta(days=1),
        "valid_end": NOW + timedelta(days=365),
        "maker_key": maker_key,
        "maker_cert_der": maker_cert,
    }
    params.update(seal_kwargs)
    seal = build_seal_v4(**params)
    return Party(KeySigner(leaf_key, leaf, [root]), root, seal)
