"""What the benchmarks say about the machine they ran on: its load, other sessions kept busy on purpose
(`--busy N`), and how many CPUs a figure's runs used."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BUSY_HELP = (
    "processes keeping a CPU busy meanwhile, each in a session of its own (a shared machine, reproducibly)"
)


@contextmanager
def competitors(count: int) -> Iterator[None]:
    """`count` processes spinning on a CPU each while the block runs. Each has a session of its own, as another
    user's shell or test run has: the kernel (autogroup) shares the CPUs between sessions, not threads, so
    work spread over two threads gets about one CPU when another session keeps the other busy."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def cores_line(name: str, walls: list[float], cpus: list[float]) -> str:
    """How many CPUs a figure's runs kept busy (CPU time / wall time), best and worst: near 2 on two idle CPUs
    for work spread over two threads, near 1 when another session holds a CPU."""
    used = [c / w for c, w in zip(cpus, walls, strict=True) if w > 0]
    return f"CPUs used by {name}: {max(used):.2f} at most, {min(used):.2f} at least (CPU time / wall time per run)"


def busy_line(count: int) -> str:
    return f"measured with {count} other session(s) each keeping a CPU busy"


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1/5 min) on {os.cpu_count()} CPUs"
