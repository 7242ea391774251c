"""sealbridge.parent_death on its own: the child's request to die with its parent, and the race it closes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sealbridge.parent_death import ENV

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")

# Asks as a demo child would (its parent is this test), then reports the kernel's setting and the environment.
PROBE = """
import ctypes, os, sys
from sealbridge.parent_death import ENV, exit_with_parent_if_asked
exit_with_parent_if_asked()
sig = ctypes.c_int(-1)
ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
print(sig.value, ENV in os.environ)
"""


def _run(code: str, parent: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), ENV: parent}
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip


def test_a_child_asked_by_its_parent_gets_sigkill_on_its_death_and_passes_nothing_on() -> None:
    res = _run(PROBE, str(os.getpid()))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["9", "False"]  # SIGKILL; grandchildren are not asked again


def test_a_child_whose_parent_is_already_gone_leaves_at_once() -> None:
    """The parent died between fork and the request: the child was re-parented and no signal would come."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    res = _run("", gone, "-m", "sealbridge", "--version")
    assert res.returncode == 1 and "sealbridge" not in res.stdout, res


def test_without_the_request_nothing_is_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    res = subprocess.run([sys.executable, "-c", PROBE], env={**env, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert res.returncode == 0 and res.stdout.split() == ["0", "False"], res


def test_demo_children_are_started_only_from_the_main_thread(tmp_path: Path) -> None:
    """Linux signals a child when the *thread* that started it ends: a worker thread must not start one."""
    from concurrent.futures import ThreadPoolExecutor

    from sealbridge.demo.processes import Child, Children

    children = Children()
    child = Child("probe", [sys.executable, "-c", "pass"], tmp_path / "probe.log", dict(os.environ), tmp_path)
    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="main thread"):
        pool.submit(children.start, child).result()
    assert child.proc is None and children.items == []
