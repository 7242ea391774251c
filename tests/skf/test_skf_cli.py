"""The CLI with an SKF key, in real subprocesses as a user runs it: `token list`, `stamp` (PDF and OFD) with
`--skf-module`, `seals list`, `token change-pin`. Every output verifies with `sealbridge verify` and, SM2-wise,
with the pure-Python gmssl backend (not the OpenSSL that signed)."""

from __future__ import annotations

import json

import pytest

from agent.tokens.softskf_store import DEVICE
from tests.support.softskf import ofd_signature_checks, pdf_signature_checks, sealbridge


def test_token_list_shows_the_device_container_and_subject(softskf_lib, skf_home):
    res = sealbridge(skf_home, "token", "list", "--skf-module", softskf_lib, "--json")
    assert res.returncode == 0, res.stderr
    [token] = json.loads(res.stdout)["tokens"]
    assert token["token_id"] == f"skf:{DEVICE}" and token["kind"] == "skf"
    assert token["retries_left"] == 6
    [key] = token["keys"]
    assert key["key_id"] == "SealBridge/sm2-signer" and key["algorithm"] == "sm2"
    assert "sm2 签章人" in json.dumps(key["certificate"], ensure_ascii=False)
    assert [s["esID"] for s in token["seals"]]


@pytest.mark.parametrize("face", ["skf", "pkcs11"])
@pytest.mark.parametrize("kind", ["pdf", "ofd"])
def test_stamp_through_the_key_verifies(
    softskf_lib, softp11_lib, skf_home, dev_pki, form_pdf, form_ofd, tmp_path, kind, face
):
    """The same key through its SKF library and through its PKCS#11 face (SM2 via a vendor mechanism)."""
    src = form_pdf if kind == "pdf" else form_ofd
    out = tmp_path / f"out.{kind}"
    library = ["--skf-module", softskf_lib] if face == "skf" else ["--module", softp11_lib]
    res = sealbridge(
        skf_home, "stamp", str(src), "-o", str(out), *library,
        "--token", f"{face}:{DEVICE}", "--pin-file", str(dev_pki.pin_file),
        "--seal", str(dev_pki.seals["sm2"]), "--place", "page=1,x=50,y=50", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["format"] == kind
    check = sealbridge(skf_home, "verify", str(out), "--trust", str(dev_pki.roots["sm2"]), "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["verdict"] == "valid"
    assert (pdf_signature_checks if kind == "pdf" else ofd_signature_checks)(out)


def test_stamp_with_the_seal_stored_on_the_key(softskf_lib, skf_home, dev_pki, form_pdf, tmp_path):
    out = tmp_path / "out.pdf"
    res = sealbridge(
        skf_home, "stamp", str(form_pdf), "-o", str(out), "--skf-module", softskf_lib,
        "--token", f"skf:{DEVICE}/SealBridge/sm2-signer", "--pin-file", str(dev_pki.pin_file),
        "--place", "page=1,x=50,y=50",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert pdf_signature_checks(out)


def test_wrong_pin_and_pulled_key_leave_no_output(softskf_lib, skf_home, dev_pki, form_pdf, tmp_path):
    bad = tmp_path / "bad-pin"
    bad.write_text("000000\n")
    out = tmp_path / "never.pdf"
    args = ["stamp", str(form_pdf), "-o", str(out), "--skf-module", softskf_lib, "--token", f"skf:{DEVICE}",
            "--seal", str(dev_pki.seals["sm2"]), "--place", "page=1,x=50,y=50", "--json"]  # fmt: skip
    res = sealbridge(skf_home, *args, "--pin-file", str(bad))
    err = json.loads(res.stdout)["error"]
    assert res.returncode == 2 and err["code"] == "PIN_INCORRECT" and err["retries_left"] == 5
    assert err["sar"] == "SAR_PIN_INCORRECT" and "000000" not in res.stdout + res.stderr
    assert not out.exists()
    (skf_home / DEVICE).rename(tmp_path / "pulled")
    res = sealbridge(skf_home, *args, "--pin-file", str(dev_pki.pin_file))
    assert res.returncode == 2 and json.loads(res.stdout)["error"]["code"] == "TOKEN_ABSENT"
    assert not out.exists()


def test_seals_list_and_change_pin(softskf_lib, skf_home, dev_pki, tmp_path):
    res = sealbridge(
        skf_home, "seals", "list", "--skf-module", softskf_lib, "--data-dir", str(tmp_path / "d"), "--json"
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["tokens"] == [{"token_id": f"skf:{DEVICE}", "label": DEVICE, "kind": "skf"}]
    assert [(s["esID"], s["key_id"]) for s in data["seals"]] == [
        (dev_pki.seal_ids["sm2"], "SealBridge/sm2-signer")
    ]
    new_pin = tmp_path / "new"
    new_pin.write_text("86421357\n")
    res = sealbridge(
        skf_home, "token", "change-pin", "--skf-module", softskf_lib, "--token", f"skf:{DEVICE}",
        "--pin-file", str(dev_pki.pin_file), "--new-pin-file", str(new_pin), "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout) == {"changed": True, "token_id": f"skf:{DEVICE}"}
