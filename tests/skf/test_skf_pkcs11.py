"""SM2 through PKCS#11, completed: agent.tokens.pkcs11 against libsoftp11.so (the PKCS#11 face of the software
SKF key) signs with both SM2 profile families of sm2_profiles.json — Z computed on the token with the signer
ID as mechanism parameter, and e computed on the host (stamping through this face: test_skf_cli)."""

from __future__ import annotations

import pytest

from agent.tokens.pkcs11 import ModuleConfig, Pkcs11Token, list_tokens
from agent.tokens.softskf_store import DEVICE
from formats.errors import SealBridgeError
from formats.gm import cert_public_key


@pytest.mark.parametrize("profile", ["sansec-sm3sm2", "sansec-raw", None])
def test_sm2_signature_verifies_for_each_profile_family(softp11_lib, skf_home, profile):
    token = Pkcs11Token(ModuleConfig(softp11_lib, profile), DEVICE)
    signer = token.signer("123456")
    data = b"signed attributes through PKCS#11"
    sig = signer.sign(data)
    assert signer.sm2_profile.z_on_token is (profile != "sansec-raw")
    assert cert_public_key(signer.certificate).verify(data, sig, backend="gmssl")
    assert not cert_public_key(signer.certificate).verify(data + b"!", sig, backend="gmssl")


def test_token_listing_and_wrong_pin(softp11_lib, skf_home):
    [token] = list_tokens([softp11_lib])
    info = token.info()
    assert info.label == DEVICE and [k.algorithm for k in info.keys] == ["sm2"]
    with pytest.raises(SealBridgeError) as exc:
        Pkcs11Token(softp11_lib, DEVICE).signer("000000")
    assert exc.value.code == "PIN_INCORRECT" and exc.value.extra["pin_count_low"] is True
