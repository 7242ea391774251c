"""When whoever reads a command's output stops reading (`sealbridge verify DIR | head -1`, `| true`), the
command ends with exit code 141 (128 + SIGPIPE, as shells report such a program) and says nothing: no
traceback, no "Exception ignored" at exit, and no exit code of a verdict it could not deliver (1 is
"invalid" for verify). Run as the user runs it: a subprocess whose standard output is a pipe already closed
at the other end, with Python's output buffered (a terminal's default) and unbuffered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.documents import one_page_pdf

REPO = Path(__file__).resolve().parents[1]


def _run_into_closed_pipe(args: list[str], unbuffered: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(REPO)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write to the pipe fails
    try:
        return subprocess.run(
            [sys.executable, "-m", "sealbridge", *args], stdout=write_end, stderr=subprocess.PIPE,
            cwd=REPO, env=env, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("uploads")
    for i in range(3):
        (top / f"doc{i}.pdf").write_bytes(one_page_pdf(i + 1))
    return top


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_closed_output_is_exit_141_and_no_traceback(folder: Path, unbuffered: bool) -> None:
    doc = str(folder / "doc0.pdf")
    for args in (["--version"], ["verify", doc], ["verify", doc, "--json"],
                 ["verify", str(folder), "--json"], ["verify", str(folder), "--jobs", "2"]):  # fmt: skip
        res = _run_into_closed_pipe(args, unbuffered)
        assert (res.returncode, res.stderr) == (141, ""), args
