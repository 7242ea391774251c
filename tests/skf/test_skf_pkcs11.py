"""SM2 through PKCS#11, completed: agent.tokens.pkcs11 against libsoftp11.so (the PKCS#11 face of the software
SKF key) signs with both SM2 profile families of sm2_profiles.json — Z computed on the token with the signer
ID as mechanism parameter, and e computed on the host — and stamped PDF/OFD outputs verify."""

from __future__ import annotations

import json

import pytest

from agent.tokens.pkcs11 import ModuleConfig, Pkcs11Token, list_tokens
from formats.errors import SealBridgeError
from formats.gm import cert_public_key

from .conftest import DEVICE
from .skf_helpers import ofd_signature_checks, pdf_signature_checks, sealbridge


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


@pytest.mark.parametrize("kind", ["pdf", "ofd"])
def test_stamp_through_the_pkcs11_face_verifies(
    softp11_lib, skf_home, dev_pki, form_pdf, form_ofd, tmp_path, kind
):
    src = form_pdf if kind == "pdf" else form_ofd
    out = tmp_path / f"out.{kind}"
    res = sealbridge(
        skf_home, "stamp", str(src), "-o", str(out), "--module", softp11_lib,
        "--token", f"pkcs11:{DEVICE}", "--pin-file", str(dev_pki.pin_file),
        "--seal", str(dev_pki.seals["sm2"]), "--place", "page=1,x=50,y=50", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    check = sealbridge(skf_home, "verify", str(out), "--trust", str(dev_pki.roots["sm2"]), "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["verdict"] == "valid", check.stdout
    assert (pdf_signature_checks if kind == "pdf" else ofd_signature_checks)(out)
