"""The throwaway PostgreSQL cluster (devkit/pgcluster.py) does not outlive its owner: killed (SIGKILL, so no
clean-up of its own runs), the owner's watchdog stops the cluster and removes its folder; stopped normally,
the watchdog just ends."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from devkit.pgcluster import PG_BIN

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]

_OWNER = """
import json, os, signal, sys
from devkit.pgcluster import PgCluster
cluster = PgCluster()
cluster.start()
lingering = 0
if sys.argv[1] == "forks":  # a child that keeps the owner's end of the watchdog's pipe, and outlives it
    lingering = os.fork()
    if lingering == 0:
        signal.pause()
        os._exit(0)
print(json.dumps([str(cluster.dir), cluster.watchdog.pid, lingering]), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def _needs_postgres() -> None:
    if not (PG_BIN / "pg_ctl").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no PostgreSQL binaries in {PG_BIN} (CI must not skip)")
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}")


def _wait_for_exit(pid: int, timeout: float) -> None:
    """Until process `pid` (not a child of this one) has ended."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([fd], [], [], timeout)[0], f"process {pid} still runs after {timeout} s"
    finally:
        os.close(fd)


def _postmaster(cluster_dir: Path) -> int:
    return int((cluster_dir / "data" / "postmaster.pid").read_text().split()[0])


@pytest.mark.parametrize("owner_forks", [False, True])
def test_a_killed_owners_cluster_is_stopped_and_removed(owner_forks: bool) -> None:
    _needs_postgres()
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, "forks" if owner_forks else "alone"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        cluster_dir, watchdog, lingering = json.loads(owner.stdout.readline())  # type: ignore[union-attr]
        cluster_dir = Path(cluster_dir)
        postmaster = _postmaster(cluster_dir)
        os.kill(postmaster, 0)  # running
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    try:
        _wait_for_exit(watchdog, 120)  # it stops the cluster, then removes the folder, then ends
        _wait_for_exit(postmaster, 5)
        assert not cluster_dir.exists()
    finally:
        for pid in (lingering, watchdog, postmaster):  # whatever is left when the test fails
            with contextlib.suppress(OSError):
                if pid:
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(cluster_dir, ignore_errors=True)


def test_a_stopped_cluster_ends_its_watchdog() -> None:
    _needs_postgres()
    from devkit.pgcluster import PgCluster

    cluster = PgCluster()
    cluster.start()
    try:
        assert cluster.watchdog is not None and cluster.watchdog.poll() is None
        postmaster = _postmaster(cluster.dir)
    finally:
        cluster.stop()
    assert cluster.watchdog.returncode == 0
    _wait_for_exit(postmaster, 5)
    assert not cluster.dir.exists()


def test_a_failed_start_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_postgres()
    from devkit import pgcluster

    failing = Path(tempfile.mkdtemp(prefix="sealbridge-failbin-", dir="/tmp"))
    try:
        os.chmod(failing, 0o755)  # the postgres user runs it (runuser) when the tests run as root
        (failing / "initdb").write_text("#!/bin/sh\nexit 1\n")
        os.chmod(failing / "initdb", 0o755)
        monkeypatch.setattr(pgcluster, "PG_BIN", failing)
        cluster = pgcluster.PgCluster()
        with pytest.raises(subprocess.CalledProcessError):
            cluster.start()
        assert not cluster.dir.exists()
        assert cluster.watchdog is not None and cluster.watchdog.returncode == 0  # told, and ended
    finally:
        shutil.rmtree(failing, ignore_errors=True)


def test_a_forked_child_does_not_hold_the_watchdogs_pipe() -> None:
    """A process forked from the owner (a verify helper, a pool worker) closes its copy of the pipe's end at
    once: the watchdog ends when the owner says so, whatever the child does."""
    _needs_postgres()
    from devkit.pgcluster import PgCluster

    cluster = PgCluster()
    cluster.start()
    ready_read, ready_write = os.pipe()  # the child's code runs (after the fork hooks): it says so
    hold_read, hold_write = os.pipe()  # then it holds on until the test has looked at its files
    child = os.fork()
    if child == 0:
        os.write(ready_write, b"r")
        os.read(hold_read, 1)
        os._exit(0)
    try:
        os.read(ready_read, 1)
        assert cluster.watchdog is not None and cluster._tell_watchdog is not None
        fds = {os.readlink(f"/proc/{child}/fd/{fd}") for fd in os.listdir(f"/proc/{child}/fd")}
        assert os.readlink(f"/proc/self/fd/{cluster._tell_watchdog}") not in fds
    finally:
        cluster.stop()
        os.write(hold_write, b"x")
        os.waitpid(child, 0)
        for fd in (ready_read, ready_write, hold_read, hold_write):
            os.close(fd)
