"""The SKF driver against the software SKF key (real C library, real SM2 over OpenSSL): listing, signing,
PIN retry counter and lock, removal and re-insertion, two devices, and libraries or devices that misbehave."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.tokens.drivers import TokenSources, list_tokens, open_token
from agent.tokens.skf import SkfModuleConfig, SkfToken, split_seals
from agent.tokens.softskf_store import DEVICE, write_device
from formats.errors import SealBridgeError
from formats.gm import load_private_key
from tests.support.softskf import gmssl_verifies


def _sources(lib: str | SkfModuleConfig) -> TokenSources:
    return TokenSources.of(skf=[lib])


def test_lists_the_device_its_container_certificate_and_seal(softskf_lib, skf_home, dev_pki):
    tokens = list_tokens(_sources(softskf_lib))
    assert [t.token_id for t in tokens] == [f"skf:{DEVICE}"]
    info = tokens[0].info()
    assert info.kind == "skf" and info.label == DEVICE and info.manufacturer == "SealBridge"
    assert info.serial.startswith("SSKF-")
    [key] = info.keys
    assert key.key_id == "SealBridge/sm2-signer" and key.algorithm == "sm2"
    assert key.certificate == dev_pki.signer_certs["sm2"].read_bytes() or key.certificate  # DER on the key
    assert info.seals == [dev_pki.seals["sm2"].read_bytes()]
    assert info.extra["retries_left"] == 6 and info.extra["locked"] is False


@pytest.mark.parametrize("digest", ["host", "key"])
def test_signs_sm2_that_verifies_independently(softskf_lib, skf_home, digest):
    token = SkfToken(
        SkfModuleConfig(softskf_lib, profile="standard" if digest == "host" else "key-digest"), DEVICE
    )
    signer = token.signer("123456")
    try:
        sig = signer.sign(b"the signed attributes")
    finally:
        signer.close()
    assert gmssl_verifies(signer.certificate, b"the signed attributes", sig)
    assert not gmssl_verifies(signer.certificate, b"something else", sig)


def test_wrong_pin_counts_down_and_six_lock_for_good(softskf_lib, skf_home):
    token = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    for left in (5, 4, 3, 2, 1):
        with pytest.raises(SealBridgeError) as exc:
            token.signer("000000")
        assert exc.value.code == "PIN_INCORRECT"
        assert exc.value.extra == {"sar": "SAR_PIN_INCORRECT", "retries_left": left}
        assert token.info().extra["retries_left"] == left
    with pytest.raises(SealBridgeError) as exc:
        token.signer("000000")
    assert exc.value.code == "PIN_LOCKED" and exc.value.extra["retries_left"] == 0
    # The counter is on disk: a fresh process (here: a fresh token object) finds the key locked, and the
    # right PIN no longer opens it.
    assert (skf_home / DEVICE / "SealBridge" / "retries").read_text().strip() == "0"
    again = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    assert again.info().extra["locked"] is True
    with pytest.raises(SealBridgeError) as exc:
        again.signer("123456")
    assert exc.value.code == "PIN_LOCKED"


def test_right_pin_resets_the_counter(softskf_lib, skf_home):
    token = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    with pytest.raises(SealBridgeError):
        token.signer("000000")
    assert token.info().extra["retries_left"] == 5
    token.signer("123456").close()
    assert token.info().extra["retries_left"] == 6


def test_device_removed_mid_session_then_reinserted(softskf_lib, skf_home):
    token = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    signer = token.signer("123456")
    saved = skf_home.parent / "saved"
    shutil.move(skf_home / DEVICE, saved)
    with pytest.raises(SealBridgeError) as exc:
        signer.sign(b"data")
    assert exc.value.code == "TOKEN_ABSENT" and exc.value.extra["sar"] == "SAR_DEVICE_REMOVED"
    assert list_tokens(_sources(softskf_lib)) == []
    with pytest.raises(SealBridgeError) as exc:
        open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    assert exc.value.code == "TOKEN_ABSENT"
    shutil.move(saved, skf_home / DEVICE)
    # The old login does not survive the removal …
    with pytest.raises(SealBridgeError) as exc:
        signer.sign(b"data")
    assert exc.value.extra["sar"] == "SAR_USER_NOT_LOGGED_IN"
    signer.close()
    # … a new one signs.
    fresh = open_token(f"skf:{DEVICE}", _sources(softskf_lib)).signer("123456")
    assert gmssl_verifies(fresh.certificate, b"data", fresh.sign(b"data"))
    fresh.close()


def test_two_devices_at_once(softskf_lib, skf_home, dev_pki):
    key_pem = dev_pki.signer_keys["sm2b"].read_bytes()
    cert = _der(dev_pki.signer_certs["sm2b"])
    write_device(skf_home, pin="654321", key_pem=key_pem, cert_der=cert, device="Second-Key")
    tokens = list_tokens(_sources(softskf_lib))
    assert sorted(t.token_id for t in tokens) == ["skf:SealBridge-SoftSKF-1", "skf:Second-Key"]
    one = open_token(f"skf:{DEVICE}", _sources(softskf_lib)).signer("123456")
    two = open_token("skf:Second-Key/SealBridge/sm2-signer", _sources(softskf_lib)).signer("654321")
    assert one.certificate != two.certificate == cert
    for signer in (one, two):
        assert gmssl_verifies(signer.certificate, b"x", signer.sign(b"x"))
        signer.close()


def test_container_without_certificate_is_not_a_key(softskf_lib, skf_home, dev_pki):
    key_pem = dev_pki.signer_keys["sm2b"].read_bytes()
    write_device(skf_home, pin="123456", key_pem=key_pem, cert_der=None, container="no-cert")
    info = open_token(f"skf:{DEVICE}", _sources(softskf_lib)).info()
    assert [k.key_id for k in info.keys] == ["SealBridge/sm2-signer"]
    token = open_token(f"skf:{DEVICE}/SealBridge/no-cert", _sources(softskf_lib))
    with pytest.raises(SealBridgeError) as exc:
        token.signer("123456")
    assert exc.value.code == "KEY_NOT_FOUND"


def test_device_vanishing_between_enumerate_and_connect(softskf_lib, skf_home):
    token = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    shutil.rmtree(skf_home / DEVICE)
    for call in (token.info, lambda: token.signer("123456")):
        with pytest.raises(SealBridgeError) as exc:
            call()
        assert exc.value.code == "TOKEN_ABSENT"
        assert exc.value.extra["sar"] == "SAR_DEVICE_REMOVED"


def test_a_library_that_is_not_skf(tmp_path: Path):
    libcrypto = next(Path(p) for p in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
                     if (Path(p) / "libcrypto.so.3").exists()) / "libcrypto.so.3"  # fmt: skip
    not_a_lib = tmp_path / "libfake.so"
    not_a_lib.write_bytes(b"not an ELF file")
    for path, why in (
        (libcrypto, "missing SKF_"),
        (not_a_lib, "cannot load"),
        (tmp_path / "nope.so", "does not"),
    ):
        with pytest.raises(SealBridgeError) as exc:
            list_tokens(_sources(str(path)))
        assert exc.value.code == "TOKEN_LIBRARY_INVALID"
        assert why in exc.value.detail


def test_a_library_missing_functions(tmp_path: Path, softskf_lib):
    src = tmp_path / "partial.c"
    src.write_text(
        "unsigned int SKF_EnumDev(int p, char *l, unsigned int *s) { (void)p; (void)l; *s = 2; return 0; }\n"
        "unsigned int SKF_ConnectDev(char *n, void **h) { (void)n; (void)h; return 0x0A000023; }\n"
    )
    lib = tmp_path / "libpartial.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, timeout=60)
    with pytest.raises(SealBridgeError) as exc:
        list_tokens(_sources(str(lib)))
    assert exc.value.code == "TOKEN_LIBRARY_INVALID"
    assert "SKF_GetDevInfo" in exc.value.extra["missing_functions"]


def test_change_pin(softskf_lib, skf_home):
    token = open_token(f"skf:{DEVICE}", _sources(softskf_lib))
    with pytest.raises(SealBridgeError) as exc:
        token.change_pin("000000", "24681357")
    assert exc.value.code == "PIN_INCORRECT" and exc.value.extra["retries_left"] == 5
    token.change_pin("123456", "24681357")
    with pytest.raises(SealBridgeError):
        token.signer("123456")
    token.signer("24681357").close()


def test_spec_parsing():
    from agent.tokens.drivers import parse_spec

    assert parse_spec("skf:Key 1") == ("skf", "Key 1", None)
    assert parse_spec("skf:Key/App/Con") == ("skf", "Key", "App/Con")
    for bad in ("skf:Key/App", "skf:/App/Con", "skf:a/b/c/d"):
        with pytest.raises(SealBridgeError) as exc:
            parse_spec(bad)
        assert exc.value.code == "BAD_REQUEST"


def test_split_seals_stops_at_garbage(dev_pki):
    seal = dev_pki.seals["sm2"].read_bytes()
    assert split_seals(seal + seal + b"\x00garbage") == [seal, seal]
    assert split_seals(b"\x30\x84\xff\xff\xff\xff") == []


def _der(pem_path: Path) -> bytes:
    from asn1crypto import pem

    return pem.unarmor(pem_path.read_bytes())[2]


def test_key_on_device_matches_dev_pki_key(skf_home, dev_pki):
    key = load_private_key((skf_home / DEVICE / "SealBridge/containers/sm2-signer/sign.key").read_bytes())
    assert key.sign(b"x")  # the PEM the C library reads is the signer's PKCS#8 key


def test_config_checks_skf_modules(tmp_path: Path):
    from agent.config import load_config

    good = tmp_path / "good.json"
    good.write_text(
        '{"skf_modules": ["/opt/a/libskf.so", {"path": "/opt/b/libgm3000.so", "profile": "key-digest"}]}'
    )
    cfg = load_config(good, env={})
    assert cfg.skf_modules == ["/opt/a/libskf.so", {"path": "/opt/b/libgm3000.so", "profile": "key-digest"}]
    for body, why in (
        ('{"skf_modules": [{"path": "/x.so", "profile": "nope"}]}', "unknown SKF profile"),
        ('{"skf_modules": ["/x.so", "/x.so"]}', "listed twice"),
        ('{"skf_modules": [{"path": "/x.so", "sm2_profile": "a"}]}', "unknown key"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(body)
        with pytest.raises(SealBridgeError) as exc:
            load_config(bad, env={})
        assert why in exc.value.detail, exc.value.detail
