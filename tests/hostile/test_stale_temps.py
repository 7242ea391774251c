"""A writer killed mid-write (SIGKILL) leaves its hidden temp file; the next write to that target removes
it, while a live writer's temp is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stamping.fileout import atomic_write

KILLED_WRITER = """
import os, signal, sys
from stamping.fileout import atomic_output
with atomic_output(sys.argv[1]) as f:
    f.write(b"half a document")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _temps(folder: Path, name: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def test_temp_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "stamped.pdf"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    res = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], env=env, timeout=60)
    assert res.returncode == -9
    assert len(_temps(tmp_path, target.name)) == 1 and not target.exists()  # what SIGKILL leaves

    live = tmp_path / f".{target.name}.{os.getpid()}-busy.tmp"  # a write of ours still running
    live.write_bytes(b"")
    atomic_write(target, b"%PDF-1.7 whole")
    assert target.read_bytes() == b"%PDF-1.7 whole"
    assert _temps(tmp_path, target.name) == [live]
