"""A PDF that changes while it is stamped from its path: a write into it is refused (DOC_CHANGED) and no
output is left; a path replaced by another file still gives a whole, valid stamp of the file that was
there when the stamp began. In process and through `sealbridge stamp`, whose copy starts before the
token login."""

from __future__ import annotations

import importlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import agent.cli.stamp as cli_stamp
from formats.errors import SealBridgeError
from sealbridge.cli import main
from stamping.fileout import atomic_output
from stamping.options import StampOptions
from stamping.pdf import stamp, verify
from stamping.placement import At, Keyword
from tests.support.pdf_flows import trusting
from tests.support.pdf_maker import PageSpec, make_pdf

# The module, not the function stamping.pdf exports under the same name.
stamp_module = importlib.import_module("stamping.pdf.stamp")

OLD_TIME_NS = 1_600_000_000_000_000_000  # any write during the test moves it, whatever the clock's resolution


def _source(tmp_path: Path) -> tuple[Path, bytes]:
    pages = [PageSpec(lines=[(72, 780, f"Page {i + 1}")]) for i in range(2)]
    pages[-1].lines.append((300, 200, "盖章处："))
    data = make_pdf(pages, filler_bytes=2_000_000)
    src = tmp_path / "in.pdf"
    src.write_bytes(data)
    os.utime(src, ns=(OLD_TIME_NS, OLD_TIME_NS))
    return src, data


def _overwrite(src: Path) -> None:
    with open(src, "r+b") as f:
        f.seek(len(b"%PDF-1.7\n") + 10)
        f.write(b"#")


def _replace(src: Path) -> None:
    other = src.with_name("other.pdf")
    other.write_bytes(make_pdf([PageSpec(lines=[(72, 780, "Another document")])]))
    os.replace(other, src)


class ChangesInputWhenSigning:
    """A signer that does `change` to the input just before its first signature: after the stamp read and
    copied the document, before anything is saved."""

    def __init__(self, signer, change: Callable[[], None]) -> None:  # type: ignore[no-untyped-def]
        self._signer = signer
        self._change: Callable[[], None] | None = change
        self.algorithm = signer.algorithm
        self.certificate = signer.certificate
        self.chain = signer.chain

    def sign(self, data: bytes, digest_algorithm: str) -> bytes:
        if self._change is not None:
            self._change()
            self._change = None
        return self._signer.sign(data, digest_algorithm)


@pytest.mark.parametrize("change", ["overwritten", "truncated", "appended"])
def test_a_document_written_to_during_the_stamp_is_refused(sm2_party, tmp_path: Path, change: str) -> None:
    src, data = _source(tmp_path)

    def write() -> None:
        if change == "overwritten":
            _overwrite(src)
        else:
            with open(src, "r+b") as f:
                if change == "truncated":
                    f.truncate(len(data) // 2)
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n%% more\n")

    dst = tmp_path / "out.pdf"
    signer = ChangesInputWhenSigning(sm2_party.signer, write)
    with pytest.raises(SealBridgeError) as err, atomic_output(dst) as out:
        stamp(src, out, signer, sm2_party.seal, [At(1, 60, 60), Keyword("盖章处")], StampOptions())
    assert err.value.code == "DOC_CHANGED"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]  # no output, no temp file


def test_a_replaced_path_gives_a_whole_stamp_of_the_first_file(sm2_party, tmp_path: Path) -> None:
    src, data = _source(tmp_path)
    dst = tmp_path / "out.pdf"
    signer = ChangesInputWhenSigning(sm2_party.signer, lambda: _replace(src))
    with atomic_output(dst) as out:
        stamp(src, out, signer, sm2_party.seal, [At(1, 60, 60), Keyword("盖章处")], StampOptions())
    pdf = dst.read_bytes()
    assert pdf[: len(data)] == data
    verdicts = [s.verdict for s in verify(pdf, trusting(sm2_party)).seals]
    assert verdicts == ["valid", "valid"]
    assert src.read_bytes() != data  # the path holds the other file now


@pytest.mark.parametrize("change", ["overwritten", "replaced"])
def test_cli_stamp_whose_input_changes_during_the_login(
    dev_pki, tmp_path: Path, capsys, monkeypatch, change: str
) -> None:
    """`sealbridge stamp` starts copying the PDF before it opens the token; the change lands while the
    token logs in, i.e. while the copy runs or after it ended."""
    src, data = _source(tmp_path)
    dst = tmp_path / "out.pdf"
    login = cli_stamp._login_while_loading

    def changing_login(*args, **kwargs):  # type: ignore[no-untyped-def]
        _overwrite(src) if change == "overwritten" else _replace(src)
        return login(*args, **kwargs)

    monkeypatch.setattr(cli_stamp, "_login_while_loading", changing_login)
    argv = ["stamp", str(src), "-o", str(dst), "--place", "page=1,x=60,y=60",
            "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file), "--json"]  # fmt: skip
    code = main(argv)
    out = json.loads(capsys.readouterr().out)
    if change == "overwritten":
        assert (code, out["error"]["code"]) == (2, "DOC_CHANGED")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]
        return
    assert code == 0, out
    pdf = dst.read_bytes()
    assert pdf[: len(data)] == data
    assert main(["verify", str(dst), "--trust", str(dev_pki.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "valid"


def test_a_file_truncated_before_the_keyword_search_is_doc_changed(
    sm2_party, tmp_path: Path, monkeypatch, capfd
):
    """pdfium reads the file through Python callbacks, whose exceptions C would drop: the truncation is
    still reported as such, once, and nothing is written."""
    src, data = _source(tmp_path)
    search = stamp_module.find_keyword

    def truncating_search(source, text):  # type: ignore[no-untyped-def]
        os.truncate(src, len(data) // 2)
        return search(source, text)

    monkeypatch.setattr(stamp_module, "find_keyword", truncating_search)
    dst = tmp_path / "out.pdf"
    with pytest.raises(SealBridgeError) as err, atomic_output(dst) as out:
        stamp(src, out, sm2_party.signer, sm2_party.seal, [Keyword("盖章处")], StampOptions())
    assert err.value.code == "DOC_CHANGED"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]
    assert "Exception ignored" not in capfd.readouterr().err


def test_cli_stamp_ended_by_sigterm_leaves_nothing(
    termination_signals_at_default, dev_pki, tmp_path: Path, capsys, monkeypatch
) -> None:
    """`kill` (SIGTERM) while the token logs in and the copy is being written: like Ctrl-C, the temp file
    goes and the exit code says how it ended (128 + 15)."""
    src, data = _source(tmp_path)
    dst = tmp_path / "out.pdf"
    login = cli_stamp._login_while_loading

    def killed_login(*args, **kwargs):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs in this thread, right here
        return login(*args, **kwargs)

    monkeypatch.setattr(cli_stamp, "_login_while_loading", killed_login)
    argv = ["stamp", str(src), "-o", str(dst), "--place", "page=1,x=60,y=60",
            "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file), "--json"]  # fmt: skip
    assert main(argv) == 128 + signal.SIGTERM
    assert "已终止 terminated" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]
    assert src.read_bytes() == data
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the command's handler is gone with it
