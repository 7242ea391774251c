"""Stops a throwaway PostgreSQL cluster (devkit/pgcluster.py) whose owner ended without stopping it.

A killed test run (SIGKILL, a CI timeout, a closed terminal) runs none of its clean-up, and a cluster started
with pg_ctl is a daemon of its own: it would run on, holding its port, memory and a folder in /tmp. The owner
starts this program with a pipe as its standard input and keeps the other end; whatever way the owner ends,
the kernel closes that end. `done` before the end means the owner stopped the cluster itself; the end
without it means it is gone, and this program stops the cluster (immediate mode) and removes its folder.

    python pgwatchdog.py CLUSTER_DIR PG_BIN

Standard library only, run by path: it must work whatever the owner's imports were.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

DONE = b"done"


def as_postgres(cmd: list[str]) -> list[str]:
    """`cmd` run as the `postgres` user when this process is root (initdb refuses root; the Debian server
    binaries run as that user)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def main(argv: list[str]) -> int:
    cluster_dir, pg_bin = Path(argv[0]), Path(argv[1])
    # Ctrl-C in the owner's terminal is the owner's to handle: this program waits for the pipe's end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    said = sys.stdin.buffer.read()
    if said == DONE:
        return 0
    subprocess.run(
        as_postgres([str(pg_bin / "pg_ctl"), "-D", str(cluster_dir / "data"), "-m", "immediate", "stop"]),
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(cluster_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
