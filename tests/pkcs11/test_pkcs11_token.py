"""Pkcs11Token against real SoftHSM2 tokens: listing, RSA/ECDSA signatures, PIN errors, PIN change."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from pkcs11 import exceptions as p11e

from agent.tokens import pkcs11 as driver
from agent.tokens.pkcs11_errors import map_error
from formats.errors import SealBridgeError
from stamping.signer import Signer
from tests.support.softhsm import KEY_IDS, PIN, der_of, refresh

DATA = b"SealBridge PKCS#11 test message \xe7\x94\xb5\xe5\xad\x90\xe5\x8d\xb0\xe7\xab\xa0" * 50


def _verify(cert_der: bytes, algorithm: str, signature: bytes, data: bytes, pss: bool = False) -> None:
    public = cx509.load_der_x509_certificate(cert_der).public_key()
    if algorithm == "rsa":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss else padding.PKCS1v15()
        public.verify(signature, data, pad, hashes.SHA256())
    else:
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


@pytest.fixture(scope="module")
def two_key_token(softhsm) -> str:
    label = softhsm.make_token(("rsa", "ecdsa"))
    yield label
    softhsm.delete_token(label)
    refresh()


def test_info_lists_keys_chain_and_seals_without_pin(softhsm, two_key_token):
    info = driver.open_token(two_key_token, None, [softhsm.module]).info()
    assert info.token_id == f"pkcs11:{two_key_token}" and info.kind == "pkcs11"
    assert info.manufacturer == "SoftHSM project" and info.serial
    assert info.pin_pad is False
    by_id = {k.key_id: k for k in info.keys}
    assert set(by_id) == {KEY_IDS["rsa"], KEY_IDS["ecdsa"]}  # the root certificates have no key
    assert by_id[KEY_IDS["rsa"]].algorithm == "rsa" and by_id[KEY_IDS["ecdsa"]].algorithm == "ecdsa"
    assert by_id[KEY_IDS["rsa"]].certificate == der_of(softhsm.pki.signer_certs["rsa"])
    assert by_id[KEY_IDS["rsa"]].chain == [der_of(softhsm.pki.roots["rsa"])]
    expected = {softhsm.pki.seals[k].read_bytes() for k in ("rsa", "ecdsa")}
    assert set(info.seals) == expected
    assert sorted(info.extra["seal_labels"]) == sorted(
        f"seal:{softhsm.pki.seal_ids[k]}" for k in ("rsa", "ecdsa")
    )


def test_list_tokens_finds_every_token_of_the_module(softhsm, two_key_token):
    labels = [t.label for t in driver.list_tokens([softhsm.module])]
    assert two_key_token in labels
    assert all(isinstance(t, driver.Pkcs11Token) for t in driver.list_tokens([softhsm.module]))


@pytest.mark.parametrize("kind,pss", [("rsa", False), ("rsa", True), ("ecdsa", False)])
def test_signatures_verify(softhsm, two_key_token, kind, pss):
    token = driver.open_token(two_key_token, KEY_IDS[kind], [softhsm.module])
    with token.signer(PIN, rsa_pss=pss) as signer:
        assert isinstance(signer, Signer)
        assert signer.algorithm == kind
        assert signer.chain == [der_of(softhsm.pki.roots[kind])]
        sig = signer.sign(DATA)
        _verify(signer.certificate, kind, sig, DATA, pss)
        with pytest.raises(InvalidSignature):
            _verify(signer.certificate, kind, sig, DATA + b"!", pss)


def test_key_selection_and_unknown_key(softhsm, two_key_token):
    token = driver.Pkcs11Token(softhsm.module, two_key_token)
    with token.signer(PIN, KEY_IDS["ecdsa"]) as signer:
        assert signer.algorithm == "ecdsa"
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN, "ffee")
    assert exc.value.code == "KEY_NOT_FOUND"


def test_absent_label_is_token_absent(softhsm):
    with pytest.raises(SealBridgeError) as exc:
        driver.open_token("no-such-token", None, [softhsm.module])
    assert exc.value.code == "TOKEN_ABSENT"


def test_missing_module_is_a_clear_error(tmp_path):
    with pytest.raises(SealBridgeError) as exc:
        driver.list_tokens([str(tmp_path / "nope.so")])
    assert exc.value.code == "TOKEN_ERROR" and "not found" in exc.value.detail
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"\x7fELF not really")
    with pytest.raises(SealBridgeError) as exc:
        driver.list_tokens([str(junk)])
    assert exc.value.code == "TOKEN_ERROR" and "cannot load" in exc.value.detail


def test_wrong_pin_is_pin_incorrect_with_count_low_hint(softhsm):
    label = softhsm.make_token(("ecdsa",), seals=False)
    token = driver.Pkcs11Token(softhsm.module, label)
    try:
        with pytest.raises(SealBridgeError) as exc:
            token.signer("000000")
        err = exc.value
        assert err.code == "PIN_INCORRECT"
        assert "CKR_PIN_INCORRECT" in err.detail
        # SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after a failed login; it never sets FINAL_TRY.
        assert err.extra["pin_count_low"] is True and err.extra["pin_final_try"] is False
        assert err.to_dict()["code"] == "PIN_INCORRECT"
        # The right PIN still works and is checked again for every signer (no silent "already logged in").
        with token.signer(PIN) as signer:
            _verify(signer.certificate, "ecdsa", signer.sign(DATA), DATA)
            with pytest.raises(SealBridgeError) as exc2:
                token.signer("999999")
            assert exc2.value.code == "PIN_INCORRECT"
    finally:
        softhsm.delete_token(label)


def _set_token_flag(tokens_dir: Path, label: str, flag: int) -> None:
    """Set a bit of CKA_OS_TOKENFLAGS (0x8000534B, 8-byte big-endian ulong) in the token's token.object."""
    for obj in tokens_dir.glob("*/token.object"):
        raw = bytearray(obj.read_bytes())
        if label.encode() not in raw:
            continue
        at = raw.index(struct.pack(">Q", 0x8000534B))
        assert raw[at + 8 : at + 16] == struct.pack(">Q", 2)  # an unsigned long attribute
        value = struct.unpack(">Q", raw[at + 16 : at + 24])[0]
        raw[at + 16 : at + 24] = struct.pack(">Q", value | flag)
        obj.write_bytes(bytes(raw))
        return
    raise AssertionError(f"token {label} not found")


def test_locked_pin_reported_by_the_token_is_pin_locked(softhsm):
    # SoftHSM2 2.6.1 never locks a PIN (12+ wrong tries only raise CKF_USER_PIN_COUNT_LOW) and its C_Login
    # ignores CKF_USER_PIN_LOCKED. What it does do is report the flags stored in its token file through
    # C_GetTokenInfo, so a token whose stored flags say "locked" is a real token reporting a locked PIN.
    label = softhsm.make_token(("rsa",), seals=False)
    try:
        _set_token_flag(softhsm.root / "tokens", label, 0x00040000)  # CKF_USER_PIN_LOCKED
        refresh()
        token = driver.Pkcs11Token(softhsm.module, label)
        assert token.info().extra["pin_locked"] is True
        for attempt in (PIN, "000000"):
            with pytest.raises(SealBridgeError) as exc:
                token.signer(attempt)
            assert exc.value.code == "PIN_LOCKED"
        with pytest.raises(SealBridgeError) as exc:
            token.change_pin(PIN, "654321")
        assert exc.value.code == "PIN_LOCKED"
    finally:
        softhsm.delete_token(label)


def test_ckr_pin_locked_and_other_codes_map_to_protocol_codes():
    # The CKR values SoftHSM2 cannot produce, mapped from the exceptions python-pkcs11 raises for them.
    assert map_error(p11e.PinLocked()).code == "PIN_LOCKED"
    assert map_error(p11e.PinLocked()).detail == "CKR_PIN_LOCKED"
    err = map_error(p11e.PinIncorrect(), flags=0x00020000 | 0x00010000)
    assert err.code == "PIN_INCORRECT" and err.extra["retries_left"] == 1 and err.extra["pin_final_try"]
    assert map_error(p11e.PinIncorrect(), flags=0x00040000).code == "PIN_LOCKED"
    assert map_error(p11e.TokenNotPresent()).code == "TOKEN_ABSENT"
    assert map_error(p11e.DeviceRemoved()).detail == "CKR_DEVICE_REMOVED"
    assert map_error(p11e.SessionHandleInvalid()).code == "TOKEN_ABSENT"
    assert map_error(p11e.MechanismInvalid()).code == "MECHANISM_UNSUPPORTED"
    err = map_error(p11e.DeviceError())
    assert err.code == "TOKEN_ERROR" and err.detail == "CKR_DEVICE_ERROR"
    assert map_error(p11e.FunctionCancelled()).detail == "CKR_FUNCTION_CANCELED"
    assert map_error(p11e.PinLenRange()).code == "PIN_INVALID"


def test_change_pin(softhsm):
    label = softhsm.make_token(("ecdsa",), seals=False)
    token = driver.Pkcs11Token(softhsm.module, label)
    try:
        with pytest.raises(SealBridgeError) as exc:
            token.change_pin("000000", "654321")
        assert exc.value.code == "PIN_INCORRECT"
        token.change_pin(PIN, "654321")
        with pytest.raises(SealBridgeError) as exc:
            token.signer(PIN)
        assert exc.value.code == "PIN_INCORRECT"
        with token.signer("654321") as signer:
            _verify(signer.certificate, "ecdsa", signer.sign(DATA), DATA)
        with pytest.raises(SealBridgeError) as exc:
            token.change_pin("654321", "1")  # SoftHSM2 wants 4..255 characters
        assert exc.value.code == "PIN_INVALID"
    finally:
        softhsm.delete_token(label)


def test_signer_after_close_needs_a_new_login(softhsm, two_key_token):
    token = driver.Pkcs11Token(softhsm.module, two_key_token, KEY_IDS["rsa"])
    signer = token.signer(PIN)
    signer.close()
    with pytest.raises(SealBridgeError) as exc:
        signer.sign(DATA)
    assert exc.value.code == "TOKEN_ABSENT"


def test_sign_after_removal_without_monitor_is_token_absent(softhsm):
    # No hot-plug monitor: SoftHSM2 answers CKR_OBJECT_HANDLE_INVALID for the deleted token's key; the driver
    # sees the token is no longer listed and says TOKEN_ABSENT (not a generic TOKEN_ERROR).
    label = softhsm.make_token(("rsa",), seals=False)
    token = driver.Pkcs11Token(softhsm.module, label)
    signer = token.signer(PIN)
    signer.sign(DATA)
    softhsm.delete_token(label)
    with pytest.raises(SealBridgeError) as exc:
        signer.sign(DATA)
    assert exc.value.code == "TOKEN_ABSENT" and "CKR_" in exc.value.detail
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert exc.value.code == "TOKEN_ABSENT"


def test_stale_module_is_reinitialised_to_find_a_new_token(softhsm):
    # Created by the tools after this process initialised SoftHSM2: invisible until C_Finalize/C_Initialize.
    label = softhsm.make_token(("ecdsa",), seals=False, reload=False)
    try:
        assert label not in [p.label for _, p in driver.present_tokens([softhsm.module])]
        token = driver.open_token(label, None, [softhsm.module])  # re-initialises the idle module once
        with token.signer(PIN) as signer:
            _verify(signer.certificate, "ecdsa", signer.sign(DATA), DATA)
    finally:
        softhsm.delete_token(label)
