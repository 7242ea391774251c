"""`sealbridge stamp --module M --token pkcs11:LABEL/ID`: the CLI path of issue 5, in a real subprocess so the
module is loaded from the command line exactly as a user runs it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from tests.support.softhsm import KEY_IDS, PIN

REPO = Path(__file__).resolve().parents[2]


def _sealbridge(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sealbridge", *args]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=REPO)


@pytest.fixture(scope="module")
def token_label(softhsm):
    label = softhsm.make_token(("rsa", "ecdsa"))
    yield label
    softhsm.delete_token(label)


@pytest.fixture
def blank_pdf(tmp_path: Path) -> Path:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    doc.save(buf)
    path = tmp_path / "form.pdf"
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_cli_stamps_with_a_pkcs11_key_and_the_output_verifies(
    softhsm, token_label, blank_pdf, tmp_path, kind
):
    pin = tmp_path / "pin"
    pin.write_text(PIN + "\n")
    out = tmp_path / f"stamped-{kind}.pdf"
    before = blank_pdf.read_bytes()
    res = _sealbridge(
        "stamp", str(blank_pdf), "-o", str(out), "--module", softhsm.module,
        "--token", f"pkcs11:{token_label}/{KEY_IDS[kind]}", "--pin-file", str(pin),
        "--seal", softhsm.pki.seal_ids[kind], "--place", "page=1,x=100,y=120", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["format"] == "pdf"
    assert blank_pdf.read_bytes() == before  # the input never changes
    root = softhsm.pki.roots[kind]
    check = _sealbridge("verify", str(out), "--trust", str(root), "--json")
    report = json.loads(check.stdout)
    assert check.returncode == 0, check.stdout
    assert report["verdict"] == "valid"
    assert report["seals"][0]["seal"]["esID"] == softhsm.pki.seal_ids[kind]
    assert PIN not in res.stdout + res.stderr


def test_cli_wrong_pin_leaves_no_output_and_prints_the_error_object(
    softhsm, token_label, blank_pdf, tmp_path
):
    pin = tmp_path / "pin"
    pin.write_text("999999\n")
    out = tmp_path / "never.pdf"
    res = _sealbridge(
        "stamp", str(blank_pdf), "-o", str(out), "--module", softhsm.module,
        "--token", f"pkcs11:{token_label}/{KEY_IDS['rsa']}", "--pin-file", str(pin),
        "--seal", softhsm.pki.seal_ids["rsa"], "--place", "page=1,x=100,y=120", "--json",
    )  # fmt: skip
    assert res.returncode == 2
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "PIN_INCORRECT"
    assert err["message_zh"] and err["message_en"]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(("never", ".never"))] == []
    assert "999999" not in res.stdout + res.stderr
