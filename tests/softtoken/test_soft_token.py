"""The soft token file: round trip, PIN retry counter and lock, PIN change, PKCS#12 import, secrecy on disk."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agent.tokens.soft import MAX_PIN_FAILURES, SoftKeyEntry, SoftToken
from formats.errors import SealBridgeError

PIN = "123456"  # the conftest's token PIN

OFDRW_P12_PASSWORD = "777777"


def _code(exc_info: pytest.ExceptionInfo[SealBridgeError]) -> str:
    return exc_info.value.code


def _verify_ecdsa(cert_der: bytes, data: bytes, signature: bytes) -> None:
    from cryptography import x509

    x509.load_der_x509_certificate(cert_der).public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_round_trip_sign_and_reopen(ecdsa_token):
    token, _key, cert = ecdsa_token
    reopened = SoftToken(token.path)
    info = reopened.info()
    assert info.kind == "soft" and info.token_id == f"soft:{token.path}"
    assert len(info.keys) == 1
    assert info.keys[0].certificate == cert and info.keys[0].algorithm == "ecdsa"
    assert info.extra["retries_left"] == MAX_PIN_FAILURES and info.extra["locked"] is False
    signer = reopened.signer(PIN)
    assert signer.algorithm == "ecdsa" and signer.certificate == cert
    data = b"document bytes"
    _verify_ecdsa(cert, data, signer.sign(data, "sha256"))
    # by explicit key id too
    assert reopened.signer(PIN, info.keys[0].key_id).certificate == cert


def test_file_is_private_and_holds_no_key_in_clear(ecdsa_token):
    token, key, _cert = ecdsa_token
    mode = stat.S_IMODE(os.stat(token.path).st_mode)
    assert mode == 0o600
    raw = token.path.read_bytes()
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    for secret in (pkcs8, scalar):
        assert secret not in raw
        assert base64.b64encode(secret) not in raw
        assert secret.hex().encode() not in raw
    assert b"-----BEGIN" not in raw


def test_wrong_pin_counts_down_then_locks_persistently(ecdsa_token):
    token, _key, _cert = ecdsa_token
    seen = []
    for _ in range(MAX_PIN_FAILURES - 1):
        with pytest.raises(SealBridgeError) as exc:
            token.signer("000000")
        assert _code(exc) == "PIN_INCORRECT"
        seen.append(exc.value.extra["retries_left"])
    assert seen == [5, 4, 3, 2, 1]
    with pytest.raises(SealBridgeError) as exc:
        token.signer("000000")  # the sixth wrong PIN locks
    assert _code(exc) == "PIN_LOCKED" and exc.value.extra == {"retries_left": 0}
    # Persisted: a fresh object over the same file refuses even the right PIN.
    again = SoftToken(token.path)
    assert again.info().extra["locked"] is True
    with pytest.raises(SealBridgeError) as exc:
        again.signer(PIN)
    assert _code(exc) == "PIN_LOCKED"
    assert json.loads(token.path.read_text())["pin_state"]["locked"] is True


def test_correct_pin_resets_counter(ecdsa_token):
    token, _key, _cert = ecdsa_token
    for expected in (5, 4, 3):
        with pytest.raises(SealBridgeError) as exc:
            token.signer("999999")
        assert exc.value.extra["retries_left"] == expected
    token.signer(PIN)
    assert token.info().extra["retries_left"] == MAX_PIN_FAILURES
    with pytest.raises(SealBridgeError) as exc:
        token.signer("999999")
    assert exc.value.extra["retries_left"] == 5


def test_too_short_pin_is_invalid_and_not_counted(ecdsa_token, tmp_path: Path):
    token, key, cert = ecdsa_token
    with pytest.raises(SealBridgeError) as exc:
        token.signer("123")
    assert _code(exc) == "PIN_INVALID"
    assert token.info().extra["retries_left"] == MAX_PIN_FAILURES
    with pytest.raises(SealBridgeError) as exc:
        SoftToken.create(tmp_path / "short.soft", "12345", keys=[SoftKeyEntry(key, cert, [])])
    assert _code(exc) == "PIN_INVALID"
    assert not (tmp_path / "short.soft").exists()


def test_change_pin(ecdsa_token):
    token, _key, cert = ecdsa_token
    before = json.loads(token.path.read_text())
    with pytest.raises(SealBridgeError) as exc:
        token.change_pin(PIN, "abc")
    assert _code(exc) == "PIN_INVALID"
    with pytest.raises(SealBridgeError) as exc:
        token.change_pin("654321", "new-pin-1")
    assert _code(exc) == "PIN_INCORRECT"
    token.change_pin(PIN, "new-pin-1")
    after = json.loads(token.path.read_text())
    assert after["kdf"]["salt"] != before["kdf"]["salt"]
    assert after["keys"][0]["private_key"]["ct"] != before["keys"][0]["private_key"]["ct"]
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert _code(exc) == "PIN_INCORRECT"
    data = b"after pin change"
    _verify_ecdsa(cert, data, token.signer("new-pin-1").sign(data))


def test_swapped_certificate_is_detected(tmp_path: Path, make_ecdsa_cert):
    self_signed_ecdsa = make_ecdsa_cert
    key_a, cert_a = self_signed_ecdsa("a")
    key_b, cert_b = self_signed_ecdsa("b")
    token = SoftToken.create(
        tmp_path / "two.soft", PIN, keys=[SoftKeyEntry(key_a, cert_a, []), SoftKeyEntry(key_b, cert_b, [])]
    )
    doc = json.loads(token.path.read_text())
    doc["keys"][0]["private_key"], doc["keys"][1]["private_key"] = (
        doc["keys"][1]["private_key"],
        doc["keys"][0]["private_key"],
    )
    token.path.write_text(json.dumps(doc))
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert _code(exc) == "TOKEN_ERROR"


def test_key_must_match_certificate(tmp_path: Path, make_ecdsa_cert):
    self_signed_ecdsa = make_ecdsa_cert
    key_a, _cert_a = self_signed_ecdsa("a")
    _key_b, cert_b = self_signed_ecdsa("b")
    with pytest.raises(SealBridgeError) as exc:
        SoftToken.create(tmp_path / "bad.soft", PIN, keys=[SoftKeyEntry(key_a, cert_b, [])])
    assert _code(exc) == "KEY_NOT_FOUND"


def test_missing_and_foreign_files(tmp_path: Path):
    with pytest.raises(SealBridgeError) as exc:
        SoftToken(tmp_path / "nope.soft")
    assert _code(exc) == "TOKEN_NOT_FOUND"
    foreign = tmp_path / "foreign.soft"
    for content in (b"\x00\x01garbage", b'{"format": "other"}', b"[1,2]"):
        foreign.write_bytes(content)
        with pytest.raises(SealBridgeError) as exc:
            SoftToken(foreign)
        assert _code(exc) == "TOKEN_ERROR"


def test_removed_file_is_token_absent(ecdsa_token):
    token, _key, _cert = ecdsa_token
    token.path.unlink()
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert _code(exc) == "TOKEN_ABSENT"


def test_concurrent_wrong_pins_are_serialised(ecdsa_token):
    """Four threads with a wrong PIN at once: each sees its own count (the per-file lock works)."""
    token, _key, _cert = ecdsa_token
    results: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            SoftToken(token.path).signer("111111")
        except SealBridgeError as err:
            with lock:
                results.append(err.extra["retries_left"])

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [2, 3, 4, 5]


def test_ofdrw_p12_import_signs_sm2(tmp_path: Path, samples: Path):
    from formats.gm.keys import cert_public_key

    token = SoftToken.create(tmp_path / "ofdrw.soft", PIN)
    assert token.info().keys == []
    p12 = (samples / "pki" / "ofdrw-user.p12").read_bytes()
    with pytest.raises(SealBridgeError):
        token.import_pkcs12(PIN, p12, "wrong-password")
    key_id = token.import_pkcs12(PIN, p12, OFDRW_P12_PASSWORD)
    info = token.info()
    assert [k.key_id for k in info.keys] == [key_id]
    assert info.keys[0].algorithm == "sm2"
    signer = token.signer(PIN)
    assert signer.algorithm == "sm2"
    data = b"SM2 signature by the ofdrw user key"
    signature = signer.sign(data)
    public = cert_public_key(info.keys[0].certificate)
    assert public.verify(data, signature)
    assert public.verify(data, signature, backend="gmssl")
    assert not public.verify(data + b"!", signature)
    # the SM2 private scalar is not on disk in clear
    d = token.private_key(PIN).private_value.to_bytes(32, "big")
    raw = token.path.read_bytes()
    assert d not in raw and base64.b64encode(d) not in raw and d.hex().encode() not in raw


def test_concurrent_processes_share_the_counter(ecdsa_token):
    """Three processes try a wrong PIN at the same instant (the agent and CLIs may share a file): the
    cross-process lock makes each see its own count (without it all three read 0 failures and answer 5)."""
    import subprocess
    import sys
    import time

    token, _key, _cert = ecdsa_token
    code = (
        "import sys, time\n"
        "from agent.tokens.soft import SoftToken\n"
        "from formats.errors import SealBridgeError\n"
        "token = SoftToken(sys.argv[1])\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # start together, after the imports\n"
        "try:\n"
        "    token.signer('222222')\n"
        "except SealBridgeError as err:\n"
        "    print(err.extra['retries_left'])\n"
    )
    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(token.path), start], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    assert outputs == [3, 4, 5]
    assert token.info().extra["retries_left"] == 3


def test_several_keys_and_seals(tmp_path: Path, make_ecdsa_cert, dev_pki):
    key_a, cert_a = make_ecdsa_cert("a")
    key_b, cert_b = make_ecdsa_cert("b")
    token = SoftToken.create(tmp_path / "multi.soft", PIN, keys=[SoftKeyEntry(key_a, cert_a, [], "first")])
    key_id_b = token.add_key(PIN, SoftKeyEntry(key_b, cert_b, [cert_a], "second"))
    info = token.info()
    assert [k.label for k in info.keys] == ["first", "second"]
    assert info.keys[1].key_id == key_id_b and info.keys[1].chain == [cert_a]
    assert token.signer(PIN).certificate == cert_a  # the first key by default
    assert token.signer(PIN, key_id_b.upper()).certificate == cert_b
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN, "00" * 20)
    assert _code(exc) == "KEY_NOT_FOUND"
    with pytest.raises(SealBridgeError) as exc:
        token.add_seal(PIN, b"\x30\x03\x02\x01\x01")
    assert _code(exc) == "DOC_MALFORMED"
    seal = dev_pki.seals["sm2"].read_bytes()
    token.add_seal(PIN, seal)
    token.add_seal(PIN, seal)  # idempotent
    assert token.info().seals == [seal]


def test_empty_token_has_no_signer(tmp_path: Path):
    token = SoftToken.create(tmp_path / "empty.soft", PIN)
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert _code(exc) == "KEY_NOT_FOUND"
    with pytest.raises(SealBridgeError) as exc:
        SoftToken.create(tmp_path / "empty.soft", PIN)
    assert _code(exc) == "CONFLICT"


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_kdf_parameters_from_the_file_are_bounded_before_any_derivation(ecdsa_token):
    """A file asking argon2id for minutes of hashing is refused at once, without using up a PIN try."""
    token, _key, _cert = ecdsa_token
    _edit(token.path, lambda d: d["kdf"].update(time_cost=64))  # 64 passes over 64 MiB: seconds per try
    with pytest.raises(SealBridgeError) as exc:
        token.signer(PIN)
    assert _code(exc) == "TOKEN_ERROR" and "time_cost" in exc.value.detail
    assert json.loads(token.path.read_text())["pin_state"]["failures"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"memory_kib": 2 * 1024 * 1024},  # 2 GiB
        {"memory_kib": 1024 * 1024, "time_cost": 8},  # 1 GiB x 8 passes
        {"parallelism": 64},
        {"salt": base64.b64encode(bytes(4096)).decode()},
    ],
)
def test_kdf_parameter_bounds(change):  # type: ignore[no-untyped-def]
    from agent.tokens.soft import KdfParams

    good = KdfParams(salt=bytes(16)).to_json()
    assert KdfParams.from_json(good).memory_kib == 64 * 1024
    with pytest.raises(SealBridgeError) as exc:
        KdfParams.from_json({**good, **change})
    assert _code(exc) == "TOKEN_ERROR"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(keys=[1]),
        lambda d: d.update(keys=[{"id": "ab"}]),
        lambda d: d["keys"][0].update(chain="x"),
        lambda d: d.update(seals=[{"x": 1}]),
        lambda d: d["pin_state"].update(failures="many"),
    ],
)
def test_damaged_entries_are_token_error_not_a_traceback(ecdsa_token, change):  # type: ignore[no-untyped-def]
    token, _key, _cert = ecdsa_token
    _edit(token.path, change)
    for call in (lambda: SoftToken(token.path).info(), lambda: token.info(), lambda: token.signer(PIN)):
        with pytest.raises(SealBridgeError) as exc:
            call()
        assert _code(exc) == "TOKEN_ERROR"


def test_create_refuses_kdf_parameters_no_open_would_accept(tmp_path: Path):
    from agent.tokens.soft import KdfParams

    with pytest.raises(SealBridgeError) as exc:
        SoftToken.create(tmp_path / "t.soft", PIN, kdf=KdfParams(time_cost=64))
    assert _code(exc) == "TOKEN_ERROR"
    assert not (tmp_path / "t.soft").exists()
