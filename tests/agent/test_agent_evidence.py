"""`sealbridge verify FILE --evidence OUT.pdf`: the evidence report renders (poppler), carries the facts on its
pages, and its attachment is the same JSON as `--json`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from sealbridge.cli import main
from stamping.evidence.build import attached_report


def _run(capsys, *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    return code, capsys.readouterr().out


def _stamped(capsys, dev_pki, tmp_path: Path, fmt: str, data: bytes) -> Path:  # type: ignore[no-untyped-def]
    src, dst = tmp_path / f"in.{fmt}", tmp_path / f"sealed.{fmt}"
    src.write_bytes(data)
    pin = tmp_path / "pin"
    pin.write_text(dev_pki.pin + "\n")
    code, out = _run(capsys, "stamp", str(src), "-o", str(dst), "--token", f"soft:{dev_pki.tokens['sm2']}",
                     "--pin-file", str(pin), "--place", "page=1,x=60,y=60", "--json")  # fmt: skip
    assert code == 0, out
    return dst


def _text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True
    ).stdout.decode()


@pytest.mark.parametrize("fmt", ["ofd", "pdf"])
def test_evidence_report(fmt, dev_pki, samples, sample_pdf, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    if not shutil.which("pdftoppm"):
        pytest.fail("poppler-utils (pdftoppm) is a test dependency (Makefile TEST_DEBS)")
    data = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes() if fmt == "ofd" else sample_pdf
    sealed = _stamped(capsys, dev_pki, tmp_path, fmt, data)
    evidence = tmp_path / "evidence.pdf"
    code, out = _run(capsys, "verify", str(sealed), "--trust", str(dev_pki.roots["sm2"]), "--json",
                     "--evidence", str(evidence))  # fmt: skip
    assert code == 0, out
    attached = attached_report(evidence.read_bytes())
    assert attached is not None and attached.decode() == out
    report = json.loads(out)

    # every page renders with poppler, and the sealed page shows the outline (red pixels)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(evidence), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 1 + len(report["seals"]) + 1  # cover, one per seal, the sealed page
    last = Image.open(pages[-1]).convert("RGB")
    assert any(r > 180 and g < 60 and b < 60 for _, (r, g, b) in last.getcolors(1 << 24))

    text = _text(evidence)
    sealed_bytes = sealed.read_bytes()
    for fact in (
        "有效 / valid",
        hashlib.sha256(sealed_bytes).hexdigest(),
        sealed.name,
        "not sealed by the platform",
        "未经平台签章",
        report["seals"][0]["seal"]["esID"],
        "文档完整性 / Integrity",
        "北京时间",
    ):
        assert fact in text, fact


def test_evidence_for_an_unreadable_document_is_an_error(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj\n<<\n")
    evidence = tmp_path / "evidence.pdf"
    code, out = _run(capsys, "verify", str(bad), "--json", "--evidence", str(evidence))
    assert code == 2 and json.loads(out)["error"]["code"] == "DOC_MALFORMED"
    assert not evidence.exists()
