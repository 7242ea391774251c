"""`sealbridge verify FILE` ends its process without the interpreter's tear-down (sealbridge/cli.py
_end_now): the report is written whole, the atexit handlers run (and what they print arrives) and the exit
code is the report's; a command given its arguments by a caller (main([...])), a batch, and a process
being traced or profiled end as usual."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.sealed import seal_holder, sealed
from tests.support.fresh_python import run_python

#: The program as its console script runs it, with os._exit saying when this process calls it (the
#: children it forks write nothing to stderr) and an atexit handler that prints through sys.stdout.
_PROGRAM = (
    "import atexit, os, sys\n"
    "_exit = os._exit\n"
    "def quick_exit(code):\n"
    "    os.write(2, b'quick exit\\n')\n"
    "    _exit(code)\n"
    "os._exit = quick_exit\n"
    "atexit.register(lambda: print('atexit ran'))\n"
    "{setup}\n"
    "from sealbridge.cli import main\n"
    "sys.argv[0] = 'sealbridge'\n"
    "sys.exit(main({argv}))\n"
)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(a sealed PDF, the same with a byte changed under its seal, the root to trust)."""
    folder = tmp_path_factory.mktemp("exit")
    holder = seal_holder()
    pdf = sealed("pdf", 1, holder)
    (folder / "good.pdf").write_bytes(pdf)
    changed = bytearray(pdf)
    changed[len(pdf) // 4] ^= 0x01
    (folder / "changed.pdf").write_bytes(changed)
    (folder / "root.der").write_bytes(holder.root)
    return folder / "good.pdf", folder / "changed.pdf", folder / "root.der"


def _run(args: list[str], as_program: bool = True, setup: str = "") -> tuple[int, str, str]:
    code = _PROGRAM.format(argv="" if as_program else repr(args), setup=setup)
    # Buffered as a console script's output is (into a pipe), so that an output left unflushed is lost.
    res = run_python(code, *args, unset=("PYTHONUNBUFFERED",))
    return res.returncode, res.stdout, res.stderr


def test_one_document_ends_without_tear_down_after_writing_everything(documents) -> None:  # type: ignore[no-untyped-def]
    good, changed, root = documents
    for doc, code, verdict in ((good, 0, "valid"), (changed, 1, "invalid")):
        rc, out, err = _run(["verify", str(doc), "--json", "--trust", str(root)])
        assert rc == code, (doc.name, rc, err)
        report, _, after = out.rpartition("}")
        assert [s["verdict"] for s in json.loads(report + "}")["seals"]] == [verdict], out
        assert after.strip() == "atexit ran", out
        assert err.splitlines() == ["quick exit"], err
        rc, out, err = _run(["verify", str(doc), "--trust", str(root), "--lang", "zh"])  # a short text report
        lines = out.rstrip().splitlines()
        assert rc == code and len(lines) > 2 and lines[-1] == "atexit ran", (rc, out, err)
        assert err.splitlines() == ["quick exit"], err


def test_a_caller_of_main_a_batch_and_a_profiled_run_get_the_usual_end(documents) -> None:  # type: ignore[no-untyped-def]
    good, changed, root = documents
    args = ["verify", str(good), "--json", "--trust", str(root)]
    rc, out, err = _run(args, as_program=False)
    assert rc == 0 and out.rstrip().endswith("atexit ran") and err == "", (rc, out, err)  # main() returned
    rc, out, err = _run(args, setup="import cProfile; profile = cProfile.Profile(); profile.enable()")
    assert rc == 0 and out.rstrip().endswith("atexit ran") and err == "", (rc, out, err)
    rc, out, err = _run(["verify", str(good), str(changed), "--json", "--jobs", "1", "--trust", str(root)])
    assert rc == 1 and out.rstrip().endswith("atexit ran") and err == "", (rc, out, err)
