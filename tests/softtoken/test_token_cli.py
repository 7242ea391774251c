"""`sealbridge token …` and `sealbridge dev-pki`: JSON shapes, errors (exit 2), PINs never printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sealbridge.cli import main

PIN = "123456"  # the conftest's token PIN (also the dev PKI's)
OFDRW_P12_PASSWORD = "777777"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert PIN not in out and PIN not in err  # PINs are never printed
    data = json.loads(out) if "--json" in argv else {}
    return code, data, out + err


@pytest.fixture
def pin_files(tmp_path: Path) -> tuple[Path, Path]:
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    new = tmp_path / "new-pin"
    new.write_text("NewPin-2026\n")
    return pin, new


def test_init_empty_then_import_p12_then_list(capsys, tmp_path: Path, pin_files, samples: Path):
    pin, _new = pin_files
    token = tmp_path / "user.soft"
    code, data, _ = run(capsys, "token", "init", "--soft", str(token), "--pin-file", str(pin), "--json")
    assert code == 0
    assert data["created"] == str(token)
    assert data["token"]["kind"] == "soft" and data["token"]["keys"] == [] and data["token"]["seals"] == []

    pw = tmp_path / "p12pw"
    pw.write_text(OFDRW_P12_PASSWORD)
    p12 = samples / "pki" / "ofdrw-user.p12"
    code, data, _ = run(
        capsys, "token", "import", "--soft", str(token), "--pin-file", str(pin), "--p12", str(p12),
        "--p12-password-file", str(pw), "--json",
    )  # fmt: skip
    assert code == 0 and data["created"] is False
    keys = data["token"]["keys"]
    assert [k["key_id"] for k in keys] == [data["imported"]]
    assert keys[0]["algorithm"] == "sm2"
    assert keys[0]["certificate"]["key_algorithm"] == "sm2"

    code, data, _ = run(capsys, "token", "list", "--soft", str(token), "--json")
    assert code == 0
    (entry,) = data["tokens"]
    assert entry["token_id"] == f"soft:{token}"
    assert entry["retries_left"] == 6 and entry["locked"] is False
    assert set(entry["keys"][0]) == {"key_id", "label", "algorithm", "certificate", "chain"}
    for field in ("subject", "issuer", "not_before", "not_after", "serial", "sha256"):
        assert field in entry["keys"][0]["certificate"]


def test_import_creates_token_and_wrong_p12_password(capsys, tmp_path: Path, pin_files, samples: Path):
    pin, _new = pin_files
    token = tmp_path / "new.soft"
    pw = tmp_path / "bad"
    pw.write_text("000000")
    p12 = samples / "pki" / "ofdrw-user.p12"
    args = ["token", "import", "--soft", str(token), "--pin-file", str(pin), "--p12", str(p12)]
    code, data, _ = run(capsys, *args, "--p12-password-file", str(pw), "--json")
    assert code == 2 and data["error"]["code"] == "PASSWORD_INCORRECT"
    assert not token.exists()  # no empty token left behind
    pw.write_text(OFDRW_P12_PASSWORD)
    code, data, _ = run(capsys, *args, "--p12-password-file", str(pw), "--json")
    assert code == 0 and data["created"] is True and len(data["token"]["keys"]) == 1


@pytest.mark.parametrize("key_type", ["sm2", "rsa", "ecdsa"])
def test_init_with_self_signed_key(capsys, tmp_path: Path, pin_files, key_type: str):
    from agent.tokens.soft import SoftToken
    from formats.gm.keys import verify_signature

    pin, _new = pin_files
    token = tmp_path / f"{key_type}.soft"
    code, data, _ = run(
        capsys, "token", "init", "--soft", str(token), "--pin-file", str(pin), "--key-type", key_type,
        "--subject", "Dev Tester", "--json",
    )  # fmt: skip
    assert code == 0
    (key,) = data["token"]["keys"]
    assert key["algorithm"] == key_type
    assert key["certificate"]["subject_cn"] == "Dev Tester" and key["certificate"]["self_issued"] is True
    signer = SoftToken(token).signer(PIN)
    alg = {"sm2": "1.2.156.10197.1.501", "ecdsa": "sha256_ecdsa", "rsa": "sha256_rsa"}[key_type]
    assert verify_signature(signer.certificate, alg, b"x", signer.sign(b"x", "sha256"))


def test_init_refuses_existing_and_short_pin(capsys, tmp_path: Path, pin_files):
    pin, _new = pin_files
    token = tmp_path / "t.soft"
    assert run(capsys, "token", "init", "--soft", str(token), "--pin-file", str(pin), "--json")[0] == 0
    code, data, _ = run(capsys, "token", "init", "--soft", str(token), "--pin-file", str(pin), "--json")
    assert code == 2 and data["error"]["code"] == "CONFLICT"
    short = tmp_path / "short"
    short.write_text("1234")
    other = tmp_path / "other.soft"
    code, data, _ = run(capsys, "token", "init", "--soft", str(other), "--pin-file", str(short), "--json")
    assert code == 2 and data["error"]["code"] == "PIN_INVALID"
    assert not other.exists()


def test_change_pin_and_wrong_pin_error_object(capsys, tmp_path: Path, pin_files, dev_pki):
    pin, new = pin_files
    token = tmp_path / "sm2.soft"
    shutil.copy(dev_pki.tokens["sm2"], token)
    wrong = tmp_path / "wrong"
    wrong.write_text("999999")
    code, data, text = run(
        capsys, "token", "change-pin", "--soft", str(token), "--pin-file", str(wrong), "--new-pin-file", str(new),
        "--json",
    )  # fmt: skip
    assert code == 2
    assert data == {
        "error": {
            "code": "PIN_INCORRECT",
            "message_zh": "口令错误",
            "message_en": "The PIN is incorrect",
            "retries_left": 5,
        }
    }
    code, data, _ = run(
        capsys, "token", "change-pin", "--soft", str(token), "--pin-file", str(pin), "--new-pin-file", str(new),
        "--json",
    )  # fmt: skip
    assert code == 0 and data == {"changed": True, "token_id": f"soft:{token}"}
    # Text mode: the error goes to stderr, exit 2, the PIN file content is not echoed.
    code, _data, text = run(
        capsys,
        "token",
        "change-pin",
        "--soft",
        str(token),
        "--pin-file",
        str(pin),
        "--new-pin-file",
        str(new),
    )
    assert code == 2 and "PIN_INCORRECT" in text and "999999" not in text
    from agent.tokens.soft import SoftToken

    assert SoftToken(token).signer("NewPin-2026").algorithm == "sm2"


def test_list_dev_tokens_shows_seals(capsys, dev_pki):
    code, data, _ = run(capsys, "token", "list", *(f"--soft={p}" for p in dev_pki.tokens.values()), "--json")
    assert code == 0
    assert [t["token_id"] for t in data["tokens"]] == [f"soft:{p}" for p in dev_pki.tokens.values()]
    for name, entry in zip(dev_pki.tokens, data["tokens"], strict=True):
        (seal,) = entry["seals"]
        assert seal["esID"] == dev_pki.seal_ids[name]
        assert seal["version"] == 4 and seal["maker_signature"] == "ok"
        assert seal["type_label"]["kind"] == dev_pki.seal_kinds[name].lower()
        for field in ("name", "valid_from", "valid_to", "picture", "certs", "sha256"):
            assert field in seal
        assert entry["keys"][0]["chain"][0]["is_ca"] is True
    code, _data, text = run(capsys, "token", "list", f"--soft={dev_pki.tokens['sm2']}")
    assert code == 0 and dev_pki.seal_ids["sm2"] in text and "法定名称章" in text


def test_list_from_agent_config(capsys, tmp_path: Path, dev_pki, monkeypatch):
    monkeypatch.setenv("SEALBRIDGE_HOME", str(tmp_path / "home"))  # no user config leaks in
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"soft_tokens": [str(dev_pki.tokens["ecdsa"])]}))
    code, data, _ = run(capsys, "token", "list", "--config", str(config), "--json")
    assert code == 0
    assert [t["token_id"] for t in data["tokens"]] == [f"soft:{dev_pki.tokens['ecdsa']}"]


def test_list_errors(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SEALBRIDGE_HOME", str(tmp_path / "home"))  # no configured tokens
    code, data, _ = run(capsys, "token", "list", "--json")
    assert code == 2 and data["error"]["code"] == "BAD_REQUEST"
    code, data, _ = run(capsys, "token", "list", "--soft", str(tmp_path / "missing.soft"), "--json")
    assert code == 2 and data["error"]["code"] == "TOKEN_NOT_FOUND"
    garbage = tmp_path / "garbage.soft"
    garbage.write_bytes(b"\x00" * 10)
    code, data, _ = run(capsys, "token", "list", "--soft", str(garbage), "--json")
    assert code == 2 and data["error"]["code"] == "TOKEN_ERROR"


def test_missing_pin_file_and_no_terminal(capsys, tmp_path: Path):
    token = tmp_path / "t.soft"
    code, data, _ = run(
        capsys, "token", "init", "--soft", str(token), "--pin-file", str(tmp_path / "nope"), "--json"
    )
    assert code == 2 and data["error"]["code"] == "BAD_REQUEST"
    code, data, _ = run(capsys, "token", "init", "--soft", str(token), "--json")  # no file, stdin not a tty
    assert code == 2 and data["error"]["code"] == "BAD_REQUEST"
    assert not token.exists()


def test_dev_pki_cli_json_and_refusal(capsys, tmp_path: Path):
    target = tmp_path / "pki"
    code, data, _ = run(capsys, "dev-pki", str(target), "--json")
    assert code == 0
    assert data["dir"] == str(target)
    assert data["roots"]["sm2"] == str(target / "ca" / "root.pem")
    assert data["tokens"] == {n: str(target / "tokens" / f"{n}.soft") for n in ("sm2", "ecdsa", "rsa")}
    assert data["pin_file"] == str(target / "tokens" / "PIN")
    assert set(data["seals"]) == {"sm2", "sm2b", "ecdsa", "rsa"}
    assert len(data["files"]) == 27  # 21 PKI and soft-token files + 6 of the software SKF key
    assert data["skf_home"] == str(target / "skf")
    code, data, _ = run(capsys, "dev-pki", str(target), "--json")
    assert code == 2 and data["error"]["code"] == "CONFLICT"
    code, _data, text = run(capsys, "dev-pki", str(target), "--force")
    assert code == 0 and "seals/sm2.esl" in text and "tokens/PIN" in text


def test_dev_seal_inspects_as_v4_with_maker_ok(capsys, dev_pki):
    code, data, _ = run(capsys, "seal", "inspect", str(dev_pki.seals["sm2"]), "--json")
    assert code == 0
    assert data["kind"] == "seal" and data["version"] == 4 and data["maker_signature"] == "ok"
    code, data, _ = run(capsys, "seal", "inspect", str(dev_pki.seals["rsa"]), "--backend", "gmssl", "--json")
    assert code == 0 and data["maker_signature"] == "ok"
