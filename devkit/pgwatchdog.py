"""Stops a throwaway PostgreSQL cluster (devkit/pgcluster.py) whose owner ended without stopping it.

A killed test run (SIGKILL, a CI timeout, a closed terminal) runs none of its clean-up, and a cluster started
with pg_ctl is a daemon of its own: it would run on, holding its port, memory and a folder in /tmp. The owner
starts this program with a pipe as its standard input and keeps the other end. `done` on the pipe means the
owner stopped the cluster itself. Otherwise, once the owner has ended (where the system can say so: Linux's
pidfd; a child the owner forked may still hold the pipe open) or the pipe ends, this program stops the
cluster (immediate mode) and removes its folder.

    python pgwatchdog.py CLUSTER_DIR PG_BIN OWNER_PID

Standard library only, run by path: it must work whatever the owner's imports were.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DONE = b"done"


def as_postgres(cmd: list[str]) -> list[str]:
    """`cmd` run as the `postgres` user when this process is root (initdb refuses root; the Debian server
    binaries run as that user)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def main(argv: list[str]) -> int:
    cluster_dir, pg_bin, owner = Path(argv[0]), Path(argv[1]), int(argv[2])
    # Ctrl-C in the owner's terminal is the owner's to handle: this program waits for the owner's end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _owner_said_done(owner):
        return 0
    subprocess.run(
        as_postgres([str(pg_bin / "pg_ctl"), "-D", str(cluster_dir / "data"), "-m", "immediate", "stop"]),
        capture_output=True,
        timeout=60,
    )
    # The owner may have died while it was still setting the cluster up: its initdb or pg_ctl runs on
    # (a killed process's children are not killed with it) and would write into the folder being removed.
    for _ in range(100):
        _kill_processes_naming(cluster_dir)
        shutil.rmtree(cluster_dir, ignore_errors=True)
        if not cluster_dir.exists():
            break
        time.sleep(0.1)  # a killed process's files close as it ends: try again
    return 0


def _kill_processes_naming(cluster_dir: Path) -> None:
    """SIGKILL every process whose command line names the cluster's folder (Linux's /proc; elsewhere none)."""
    needle = os.fsencode(cluster_dir)
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self").exists() else []:
        try:
            if int(entry.name) != os.getpid() and needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # ended meanwhile, or not ours to read


def _owner_said_done(owner: int) -> bool:
    """Wait until the owner says `done` (True), or ends, or closes the pipe without it (False)."""
    stdin = sys.stdin.fileno()
    watched = [stdin]
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(owner)
        except ProcessLookupError:
            return _written(stdin) == DONE  # the owner is gone already
        except OSError:
            pidfd = None  # no pidfd here: the pipe's end alone says the owner is gone
        else:
            if os.getppid() != owner:  # gone before the pidfd was made (its number may be another's now)
                return _written(stdin) == DONE
            watched.append(pidfd)
    said = b""
    while True:
        ready, _, _ = select.select(watched, [], [])
        if stdin in ready:
            piece = os.read(stdin, 64)
            said += piece
            if not piece or said == DONE:
                return said == DONE
        if pidfd is not None and pidfd in ready:
            return said + _written(stdin) == DONE


def _written(stdin: int) -> bytes:
    """What is in the pipe now (without waiting for a child of the owner that may still hold it open)."""
    os.set_blocking(stdin, False)
    try:
        return os.read(stdin, 64)
    except BlockingIOError:
        return b""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
