"""`sealbridge seal inspect`: JSON shape for seals and signatures, human output, errors with exit 2."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from formats.picture import draw_round_seal
from formats.ses import SealKind
from formats.ses.build import build_seal_v4
from sealbridge.cli import main
from tests.support.ses_pki import T0, Pki

SEAL_KEYS = {
    "kind",
    "version",
    "esID",
    "name",
    "type",
    "maker_signature",
    "picture",
    "valid_from",
    "valid_to",
    "certs",
}
SIGNATURE_KEYS = {"kind", "version", "signature", "time", "property_info", "seal"}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["seal", "inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_v4_seal_json(capsys, seals_dir: Path):
    code, out, _ = _run(capsys, str(seals_dir / "ofdrw-v4.esl"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert SEAL_KEYS <= doc.keys()
    assert doc["kind"] == "seal" and doc["version"] == 4
    assert doc["esID"] == "51f044b76510434e9bc67a1185c2fba5"
    assert doc["name"] == "OFD R&W 测试用印章" and doc["type"] == 3
    assert doc["maker_signature"] == "ok"
    assert doc["picture"] == {"type": "PNG", "width_mm": 40, "height_mm": 40}
    assert doc["valid_from"] == "2020-04-22T02:09:00+00:00" and doc["valid_to"] == "2022-04-22T02:09:00+00:00"
    assert len(doc["certs"]) == 1 and doc["certs"][0]["subject_cn"] == "Test Certificate"
    assert doc["certs"][0]["key_algorithm"] == "sm2"


@pytest.mark.parametrize(("name", "version"), [("ofdrw-v1.esl", 1), ("ofdrw-v5.esl", 5)])
def test_inspect_v1_and_v5_seals(capsys, seals_dir: Path, name: str, version: int):
    code, out, _ = _run(capsys, str(seals_dir / name), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == version and doc["maker_signature"] == "ok"


def test_inspect_signed_value_json(capsys, samples: Path, tmp_path: Path):
    with zipfile.ZipFile(samples / "ofd" / "gomain-invoice-v4.ofd") as zf:
        blob = zf.read("Doc_0/Signs/Sign_0/SignedValue.dat")
    path = tmp_path / "SignedValue.dat"
    path.write_bytes(blob)
    code, out, _ = _run(capsys, str(path), "--json")
    doc = json.loads(out)
    assert code == 0 and SIGNATURE_KEYS <= doc.keys()
    assert doc["kind"] == "signature" and doc["version"] == 4 and doc["signature"] == "ok"
    assert doc["time"] == "2020-10-10T07:11:20+00:00"
    assert doc["property_info"] == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert SEAL_KEYS <= doc["seal"].keys() and doc["seal"]["maker_signature"] == "ok"
    assert doc["seal"]["picture"]["type"] == "ofd" and doc["signer_in_seal"] is True


def test_inspect_human_output_has_chinese_and_english_labels(capsys, seals_dir: Path):
    code, out, _ = _run(capsys, str(seals_dir / "ofdrw-v1.esl"))
    assert code == 0
    assert "印章编码 esID" in out and "制章签名 Maker signature: 通过 ok" in out and "单位印章" in out


def test_inspect_base64_and_pem_text(capsys, seals_dir: Path, tmp_path: Path):
    der = (seals_dir / "ofdrw-v4.esl").read_bytes()
    b64 = tmp_path / "seal.b64"
    b64.write_bytes(base64.encodebytes(der))
    pem = tmp_path / "seal.pem"
    pem.write_bytes(b"-----BEGIN SEAL-----\n" + base64.encodebytes(der) + b"-----END SEAL-----\n")
    for path in (b64, pem):
        code, out, _ = _run(capsys, str(path), "--json")
        assert code == 0 and json.loads(out)["maker_signature"] == "ok"


@pytest.mark.parametrize(
    ("name", "code_name", "needle"),
    [
        ("ber-indefinite-v4.esl", "DOC_MALFORMED", "indefinite length"),
        ("corrupted-text-converted.esl", "DOC_MALFORMED", "text conversion"),
    ],
)
def test_inspect_errors_exit_2_with_error_object(capsys, seals_dir: Path, name, code_name, needle):
    code, out, _ = _run(capsys, str(seals_dir / name), "--json")
    assert code == 2
    err = json.loads(out)["error"]
    assert err["code"] == code_name and needle in err["detail"]
    assert err["message_zh"] and err["message_en"]


def test_inspect_missing_file_and_pkcs7(capsys, samples: Path, tmp_path: Path):
    code, out, _ = _run(capsys, str(tmp_path / "nope.esl"), "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "BAD_REQUEST"
    with zipfile.ZipFile(samples / "ofd" / "gomain-pkcs7-two-signs.ofd") as zf:
        (tmp_path / "p7.dat").write_bytes(zf.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    code, out, err = _run(capsys, str(tmp_path / "p7.dat"))
    assert code == 2 and out == "" and "DOC_UNSUPPORTED" in err


def test_inspect_exports_the_picture(capsys, seals_dir: Path, tmp_path: Path):
    out_png = tmp_path / "pic.png"
    code, out, _ = _run(capsys, str(seals_dir / "ofdrw-v1.esl"), "--json", "--picture", str(out_png))
    assert code == 0 and out_png.read_bytes().startswith(b"\x89PNG")


def test_inspect_a_built_seal_with_the_gmssl_backend_in_a_subprocess(pki: Pki, tmp_path: Path):
    der = build_seal_v4(
        esid="SB-42",
        name="宿迁示范科技有限公司",
        seal_type=SealKind.LEGAL_NAME.code,
        vid="SealBridge",
        certs=[pki.signer.certificate],
        picture=("png", draw_round_seal("宿迁示范科技有限公司", "", px_per_mm=3), 42, 42),
        valid_start=T0,
        valid_end=T0 + timedelta(days=30),
        maker_key=pki.maker_key,
        maker_cert_der=pki.maker_cert,
    )
    path = tmp_path / "built.esl"
    path.write_bytes(der)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sealbridge",
            "seal",
            "inspect",
            str(path),
            "--json",
            "--backend",
            "gmssl",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (
        doc["version"] == 4
        and doc["maker_signature"] == "ok"
        and doc["type_label"]["label_zh"] == "法定名称章"
    )


def test_inspect_vector_picture_is_not_exported_but_inspection_succeeds(
    capsys, samples: Path, tmp_path: Path
):
    with zipfile.ZipFile(samples / "ofd" / "gomain-invoice-v4.ofd") as zf:
        (tmp_path / "sv.dat").write_bytes(zf.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    out_png = tmp_path / "pic.png"
    code, out, _ = _run(capsys, str(tmp_path / "sv.dat"), "--picture", str(out_png))
    assert code == 0 and not out_png.exists()
    assert "Picture not written: vector OFD picture, not rendered" in out
