"""sealbridge-agent.exe: the agent, a windowless program started at login (HKCU Run key).

A windowless PyInstaller program has no stdout/stderr (None), so the agent's log lines go to a file in the
user's log directory instead, kept to two files of at most 5 MiB.
"""

import sys
from pathlib import Path

import platformdirs

from sealbridge.cli import main

MAX_LOG_BYTES = 5 * 1024 * 1024


def _log_to_file() -> None:
    log_dir = Path(platformdirs.user_log_dir("sealbridge", appauthor=False))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "agent.log"
    if log.exists() and log.stat().st_size > MAX_LOG_BYTES:
        log.replace(log.with_suffix(".log.1"))
    stream = open(log, "a", encoding="utf-8", buffering=1)  # open for the life of the process
    sys.stdout = stream
    sys.stderr = stream


if __name__ == "__main__":
    if sys.stderr is None or sys.stdout is None:
        _log_to_file()
    sys.exit(main(["agent", *sys.argv[1:]]))
