"""SM2 vendor profiles: data, enum pseudo-members, and the call reaching SoftHSM2's C_SignInit.

SoftHSM2 has no SM2 mechanism, so a profile is tested down to C_SignInit: SoftHSM2 answers
CKR_MECHANISM_INVALID for the vendor CKM value, which must surface as MECHANISM_UNSUPPORTED naming the profile.
(SM2 signing end to end goes through the soft token.)
"""

from __future__ import annotations

import json

import pytest
from pkcs11 import KeyType, Mechanism

from agent.tokens import pkcs11 as driver
from agent.tokens.profiles import builtin_profiles, enum_member, get_profile, load_profiles, match_profile
from formats.errors import SealBridgeError
from tests.support.softhsm import KEY_IDS, PIN

DATA = b"SM2 message"


def test_builtin_profiles_cover_the_researched_vendors():
    profiles = {p.name: p for p in builtin_profiles()}
    assert (
        profiles["sansec-sm3sm2"].sign_mechanism == 0x80008100 and profiles["sansec-sm3sm2"].ckk == 0x80000004
    )
    assert profiles["sansec-sm3sm2-der"].output == "der"
    assert profiles["sansec-raw"].z_on_token is False
    assert profiles["tass"].sign_mechanism == 0x80008100 and profiles["tass-raw"].sign_mechanism == 0x80008000
    assert profiles["ibm-ep11"].sign_mechanism == 0x8005000C and profiles["ibm-ep11"].ckk == 0x80050002
    assert profiles["westone"].ckk == 0x80000001 and profiles["westone"].sign_mechanism == 0x80000004
    for p in profiles.values():
        assert p.to_dict()["sign_mechanism"].startswith("0x")


def test_pseudo_members_are_accepted_as_enum_values():
    mech = enum_member(Mechanism, 0x80008101, "TEST_VENDOR")
    assert isinstance(mech, Mechanism) and int(mech) == 0x80008101
    assert Mechanism(0x80008101) is mech
    assert enum_member(Mechanism, 0x80008101, "OTHER") is mech  # registered once
    assert enum_member(Mechanism, int(Mechanism.ECDSA), "X") is Mechanism.ECDSA  # real members untouched
    assert KeyType(get_profile("ibm-ep11").key_type) == 0x80050002


def test_extra_profiles_file_and_errors(tmp_path):
    extra = tmp_path / "profiles.json"
    extra.write_text(
        json.dumps(
            {
                "profiles": [
                    {"name": "acme", "ckk": "0x80000099", "sign_mechanism": 0x80777001, "output": "der"}
                ]
            }
        )
    )
    profiles = load_profiles(extra)
    assert profiles["acme"].sign_mechanism == 0x80777001 and "sansec-sm3sm2" in profiles
    assert match_profile({0x1041, 0x80777001}, profiles).name == "acme"
    assert match_profile({0x1041}, profiles) is None
    with pytest.raises(SealBridgeError) as exc:
        get_profile("nope")
    assert exc.value.code == "MECHANISM_UNSUPPORTED" and "sansec-sm3sm2" in exc.value.detail
    bad = tmp_path / "bad.json"
    bad.write_text('{"profiles": [{"name": "x", "ckk": "zz", "sign_mechanism": 1}]}')
    with pytest.raises(SealBridgeError) as exc:
        load_profiles(bad)
    assert exc.value.code == "BAD_REQUEST"


@pytest.fixture(scope="module")
def sm2_token(softhsm):
    label = softhsm.make_token(("sm2",), seals=True)
    yield label
    softhsm.delete_token(label)


def test_sm2_key_is_listed_as_sm2(softhsm, sm2_token):
    info = driver.Pkcs11Token(softhsm.module, sm2_token).info()
    assert [(k.key_id, k.algorithm) for k in info.keys] == [(KEY_IDS["sm2"], "sm2")]


@pytest.mark.parametrize(
    "profile", ["sansec-sm3sm2", "sansec-sm3sm2-appid1-der", "sansec-raw", "ibm-ep11", "westone"]
)
def test_sm2_profile_reaches_c_signinit_and_maps_mechanism_invalid(softhsm, sm2_token, profile):
    cfg = driver.ModuleConfig(softhsm.module, sm2_profile=profile)
    token = driver.Pkcs11Token(cfg, sm2_token)
    with token.signer(PIN) as signer:
        assert signer.algorithm == "sm2" and signer.sm2_profile.name == profile
        with pytest.raises(SealBridgeError) as exc:
            signer.sign(DATA)
    err = exc.value
    assert err.code == "MECHANISM_UNSUPPORTED"
    p = get_profile(profile)
    # CKR_MECHANISM_INVALID came from the module: python-pkcs11 passed the vendor value on to C_SignInit.
    assert (
        "CKR_MECHANISM_INVALID" in err.detail
        and f"{p.sign_mechanism:#x}" in err.detail
        and profile in err.detail
    )


def test_sm2_without_a_matching_profile_is_a_clear_error(softhsm, sm2_token):
    # No profile configured: the token's C_GetMechanismList is probed; SoftHSM2 lists no SM2 mechanism.
    token = driver.Pkcs11Token(softhsm.module, sm2_token)
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert exc.value.code == "MECHANISM_UNSUPPORTED" and "sm2_profile" in exc.value.detail
    # A failed signer() leaves no login behind.
    assert token.module.current_login(sm2_token) is None
