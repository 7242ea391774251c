"""The machine's process table read from /proc (Linux): which processes are alive, polled with a deadline."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (field 3 onwards), or None when there is no such process."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def identity(pid: int) -> tuple[int, int] | None:
    """(pid, start time in clock ticks): a live process, told apart from a later one given the same pid."""
    fields = _stat_fields(pid)
    return None if fields is None or fields[0] == "Z" else (pid, int(fields[19]))


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line contains `text` (the demo's children all name its directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = _stat_fields(int(entry.name))
        if text in cmdline and fields is not None and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def wait_gone(text: str, timeout: float = 5.0) -> list[tuple[int, str]]:
    """Poll until no live process mentions `text` or the deadline passes; what is still alive then."""
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def wait_processes_gone(processes: list[tuple[int, int]], timeout: float) -> list[tuple[int, int]]:
    """Poll until none of these identities (see identity()) is alive or the deadline passes; the survivors."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in processes if identity(p[0]) == p]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
