"""Evidence sealed by the platform's verification service (Art. 28): POST /api/v1/verify?evidence=pdf, then
`sealbridge evidence check` — passes as issued, fails after one byte changes, fails against another original,
and evidence made locally is not taken for the platform's."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.central_process import start_central
from sealbridge.cli import main


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, _, handle = start_central(tmp_path_factory.mktemp("evidence-platform"))
    yield url
    handle.stop()


@pytest.fixture(scope="module")
def sealed(dev_pki, samples, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("evidence-doc")
    src, dst, pin = work / "合同.ofd", work / "合同-sealed.ofd", work / "pin"
    src.write_bytes((samples / "ofd" / "unsigned-helloworld.ofd").read_bytes())
    pin.write_text(dev_pki.pin + "\n")
    assert main(["stamp", str(src), "-o", str(dst), "--token", f"soft:{dev_pki.tokens['sm2']}",
                 "--pin-file", str(pin), "--place", "page=1,x=60,y=60"]) == 0  # fmt: skip
    return dst


def _issue(platform: str, document: Path) -> bytes:
    url = f"{platform}/api/v1/verify?evidence=pdf&name={urllib.parse.quote(document.name)}"
    req = urllib.request.Request(url, data=document.read_bytes(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.headers.get_content_type() == "application/pdf"
        return resp.read()


def _check(capsys, platform: str, evidence: Path, original: Path | None) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    argv = ["evidence", "check", str(evidence), "--platform", platform, "--json"]
    code = main(argv + (["--document", str(original)] if original else []))
    return code, json.loads(capsys.readouterr().out)


def _failed(result: dict) -> set[str]:
    return {c["name"] for c in result["checks"] if not c["ok"]}


def test_platform_evidence_passes_and_renders(platform, sealed, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(_issue(platform, sealed))
    code, result = _check(capsys, platform, evidence, sealed)
    assert code == 0 and result["ok"], result
    assert [c["name"] for c in result["checks"]] == ["seal", "attachments", "pages", "document"]
    assert "Verification Service" in result["checks"][0]["detail"]
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(evidence), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 3  # cover, the seal, the sealed page
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(evidence), "-"], capture_output=True, check=True
    ).stdout
    assert "电子印章验证服务".encode() in text and b"not sealed by the platform" not in text
    # Each check's explanation is printed in Chinese first, then English (the catalogue's sentences).
    words = b"".join(text.split())
    assert "文档完整性".encode() in words and "均未改动".encode() in words, text.decode()[:3000]
    assert b"unchanged" in words
    assert result["checks"][0]["detail_zh"].startswith("由 SealBridge Central Verification Service"), result
    assert all(c["detail_zh"] and c["detail"] != c["detail_zh"] for c in result["checks"]), result
    # The person-facing output: Chinese first, the signer by name, the time in Beijing time.
    main(["evidence", "check", str(evidence), "--platform", platform, "--document", str(sealed)])
    human = capsys.readouterr().out
    assert "通过 / passed" in human and "由 " in human and "(UTC+8)" in human, human


def test_one_changed_byte_fails(platform, sealed, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(_issue(platform, sealed))
    at = len(data) // 3
    data[at] ^= 0x01
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(bytes(data))
    code, result = _check(capsys, platform, evidence, sealed)
    assert code == 1 and "seal" in _failed(result), result


def test_another_original_fails(platform, sealed, samples, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(_issue(platform, sealed))
    other = tmp_path / "other.ofd"
    other.write_bytes((samples / "ofd" / "unsigned-helloworld.ofd").read_bytes())
    code, result = _check(capsys, platform, evidence, other)
    assert code == 1 and _failed(result) == {"document"}, result


def test_local_evidence_is_not_the_platforms(platform, sealed, dev_pki, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    evidence = tmp_path / "local.pdf"
    assert (
        main(["verify", str(sealed), "--trust", str(dev_pki.roots["sm2"]), "--evidence", str(evidence)]) == 0
    )
    capsys.readouterr()
    code, result = _check(capsys, platform, evidence, sealed)
    assert code == 1 and _failed(result) == {"seal"}, result
    assert "not sealed by the platform" in result["checks"][0]["detail"]
