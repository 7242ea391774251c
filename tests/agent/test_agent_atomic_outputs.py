"""Outputs of the agent go through stamping.fileout: the CLI stamper streams into a "w+b" temp file in the
target's folder that is renamed into place, and a failure leaves no file behind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import stamping.pdf
from agent.config import AgentConfig
from agent.pairing import load_or_create_secret, rotate_secret
from agent.seal_store import SealStore
from formats.errors import SealBridgeError
from sealbridge.cli import main


def _stamp_args(dev_pki, soft_token: Path, src: Path, dst: Path, pin: Path) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        "stamp", str(src), "-o", str(dst), "--token", f"soft:{soft_token}", "--pin-file", str(pin),
        "--place", "page=1,x=60,y=60", "--json",
    ]  # fmt: skip


def _folder_of(f) -> Path:  # type: ignore[no-untyped-def]
    return Path(os.readlink(f"/proc/self/fd/{f.fileno()}")).parent  # Linux: where the open file lives


@pytest.fixture
def inputs(tmp_path: Path, sample_pdf: bytes, dev_pki) -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    src = tmp_path / "in" / "contract.pdf"
    src.parent.mkdir()
    src.write_bytes(sample_pdf)
    pin = tmp_path / "pin"
    pin.write_text(dev_pki.pin + "\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return src, pin, out_dir


def test_cli_stamper_streams_into_a_readable_temp_file_next_to_the_target(  # type: ignore[no-untyped-def]
    inputs, dev_pki, soft_token, monkeypatch, capsys
):
    src, pin, out_dir = inputs
    dst = out_dir / "stamped.pdf"
    real = stamping.pdf.stamp
    seen: dict[str, object] = {}

    def spy(data, out, *args, **kw):  # type: ignore[no-untyped-def]
        seen.update(readable=out.readable(), seekable=out.seekable(), folder=_folder_of(out))
        return real(data, out, *args, **kw)

    monkeypatch.setattr(stamping.pdf, "stamp", spy)
    assert main(_stamp_args(dev_pki, soft_token, src, dst, pin)) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(dst)
    assert seen == {"readable": True, "seekable": True, "folder": out_dir.resolve()}
    assert dst.read_bytes().startswith(b"%PDF") and sorted(os.listdir(out_dir)) == ["stamped.pdf"]
    report = stamping.pdf.verify(dst.read_bytes())
    assert report.seals and report.seals[0].checks["integrity"].status == "ok"


def test_cli_stamp_failure_leaves_no_file(inputs, dev_pki, soft_token, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    src, pin, out_dir = inputs

    def failing(data, out, *args, **kw):  # type: ignore[no-untyped-def]
        out.write(b"%PDF-1.7 half a document")
        raise SealBridgeError("DOC_MALFORMED", "failed halfway")

    monkeypatch.setattr(stamping.pdf, "stamp", failing)
    assert main(_stamp_args(dev_pki, soft_token, src, out_dir / "stamped.pdf", pin)) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "DOC_MALFORMED"
    assert os.listdir(out_dir) == []


def test_private_files_are_written_whole_and_private(tmp_path: Path) -> None:
    cfg = AgentConfig(home=tmp_path, data_dir=tmp_path / "data", runtime_dir=tmp_path / "run")
    first = load_or_create_secret(cfg)
    second = rotate_secret(cfg)
    assert first != second and load_or_create_secret(cfg) == second
    assert stat.S_IMODE(cfg.secret_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in cfg.secret_path.parent.iterdir()) == ["pairing.secret"]  # no temp file

    store = SealStore(tmp_path / "data")
    store.store("ab" * 32, [b"\x30\x00"])
    assert store.cached("ab" * 32) == [b"\x30\x00"]
    assert sorted(p.name for p in (tmp_path / "data" / "seals").iterdir()) == [f"{'ab' * 32}.json"]


def test_seal_cache_write_failure_is_a_stable_error(tmp_path: Path) -> None:
    store = SealStore(tmp_path)
    (tmp_path / "seals").mkdir()
    (tmp_path / "seals" / f"{'cd' * 32}.json").mkdir()  # a folder where the file should go
    with pytest.raises(SealBridgeError) as exc:
        store.store("cd" * 32, [b"\x30\x00"])
    assert exc.value.code == "INTERNAL"
    assert sorted(p.name for p in (tmp_path / "seals").iterdir()) == [f"{'cd' * 32}.json"]
