"""A PDF that changes while it is stamped from its path: a write into it is refused (DOC_CHANGED) and no
output is left; a path replaced by another file still gives a whole, valid stamp of the file that was
there when the stamp began. In process and through `sealbridge stamp`, whose copy starts before the
token login."""

from __future__ import annotations

import json
import os
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
