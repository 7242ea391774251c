"""The throwaway PostgreSQL cluster (devkit/pgcluster.py) does not outlive its owner: killed (SIGKILL, so no
clean-up of its own runs), the owner's watchdog stops the cluster and removes its folder; stopped normally,
the watchdog just ends."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
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
        if lingering:
            os.kill(lingering, signal.SIGKILL)


def test_a_stopped_cluster_ends_its_watchdog() -> None:
    _needs_postgres()
    from devkit.pgcluster import PgCluster

    cluster = PgCluster()
    cluster.start()
    assert cluster.watchdog is not None and cluster.watchdog.poll() is None
    postmaster = _postmaster(cluster.dir)
    cluster.stop()
    assert cluster.watchdog.returncode == 0
    _wait_for_exit(postmaster, 5)
    assert not cluster.dir.exists()
