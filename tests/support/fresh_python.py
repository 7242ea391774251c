"""Run Python code in a fresh interpreter on this source tree: for what depends on a process's start
(which modules an import loads, forking, start-up paths) and must not see what the test process loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(
    code: str, *args: str, path: Path | None = None, timeout: float = 120, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`python -c code args...` with this tree (and `path`, if given) on PYTHONPATH, output captured;
    without the environment variables named in `unset` (PYTHONUNBUFFERED, say, for what buffering hides)."""
    pythonpath = os.pathsep.join(str(p) for p in (REPO, path) if p is not None)
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=dict(env, PYTHONPATH=pythonpath),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def run_python_ok(code: str, *args: str, path: Path | None = None, timeout: float = 120) -> None:
    """run_python() for code that checks with its own asserts and prints `ok` when all of them held."""
    res = run_python(code, *args, path=path, timeout=timeout)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def start_python(code: str, *args: str) -> subprocess.Popen[str]:
    """`python -c code args...` as run_python() runs it, but started and left running: its standard input
    and output are pipes, for code that says when it is ready and waits for a line before it goes on."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
