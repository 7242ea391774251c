"""Fixtures for the seal tests: fresh SM2 keys with certificates, and seals built from them."""

from __future__ import annotations

import pytest

from formats.gm import SM2PrivateKey
from tests.support.ses_pki import Pki, SoftSm2Signer, make_sm2_cert


@pytest.fixture(scope="session")
def pki() -> Pki:
    maker_key = SM2PrivateKey.generate()
    maker_cert = make_sm2_cert(maker_key, "Test Seal Maker")
    signer_key = SM2PrivateKey.generate()
    other_key = SM2PrivateKey.generate()
    return Pki(
        maker_key=maker_key,
        maker_cert=maker_cert,
        signer=SoftSm2Signer(signer_key, make_sm2_cert(signer_key, "张三", maker_key, "Test Seal Maker")),
        other_signer=SoftSm2Signer(other_key, make_sm2_cert(other_key, "李四", maker_key, "Test Seal Maker")),
    )
