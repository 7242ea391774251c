"""Fixtures for formats/gm tests: the shared PKI samples and a freshly built SM2/RSA/ECDSA PKI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from formats.gm import SM2PrivateKey
from formats.x509 import build_certificate


@pytest.fixture(scope="session")
def pki(samples: Path) -> Path:
    return samples / "pki"


@dataclass
class Issued:
    key: object
    cert: bytes


@dataclass
class MiniPki:
    root: Issued
    leaf: Issued


def _mini_pki(root_key, leaf_key, label: str) -> MiniPki:
    root_cert = build_certificate(
        {"common_name": f"Test {label} Root", "organization_name": "SealBridge Tests", "country_name": "CN"},
        root_key,
        None,
        root_key,
        ca=True,
        path_len=0,
    )
    leaf_cert = build_certificate(
        {"common_name": f"Test {label} Signer 张三", "organization_name": "示例公司", "country_name": "CN"},
        leaf_key,
        root_cert,
        root_key,
        ext_key_usage=["email_protection"],
    )
    return MiniPki(Issued(root_key, root_cert), Issued(leaf_key, leaf_cert))


@pytest.fixture(scope="session")
def sm2_pki() -> MiniPki:
    return _mini_pki(SM2PrivateKey.generate(), SM2PrivateKey.generate(), "SM2")


@pytest.fixture(scope="session")
def rsa_pki() -> MiniPki:
    gen = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    return _mini_pki(gen(), gen(), "RSA")


@pytest.fixture(scope="session")
def ec_pki() -> MiniPki:
    return _mini_pki(
        ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()), "ECDSA"
    )
