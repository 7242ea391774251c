"""Swap signal handlers for a block, and put the callers' back whatever signal arrives meanwhile.

A Python signal handler runs in the main thread between any two bytecodes, so also halfway through
installing or restoring handlers. Installing, each caller's handler is recorded before it is replaced, and
whatever was installed when a handler raises is undone; restoring goes on to the end even when a restored
handler raises on the way (its exception then comes out once every handler is back).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: (signal number, the handler in force) → the handler to use during the block, or None to leave it.
Choice = Callable[[int, Any], Any]


@contextmanager
def handlers_swapped(names: tuple[str, ...], choose: Choice) -> Iterator[None]:
    """During the block, the handler choose(signum, current) for each signal named that this platform has
    (nothing is swapped outside the main thread: Python runs handlers nowhere else)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: list[tuple[int, Any]] = []
    try:
        for name in names:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            current = signal.getsignal(signum)
            replacement = choose(signum, current)
            if replacement is None:
                continue
            previous.append((signum, current))  # recorded first: restored even if the swap is interrupted
            signal.signal(signum, replacement)
        yield
    finally:
        _restore(previous)


def _restore(previous: list[tuple[int, Any]]) -> None:
    try:
        while previous:
            signum, handler = previous[-1]
            signal.signal(signum, handler)
            previous.pop()
    finally:
        while previous:  # a restored handler raised: the others still go back
            signum, handler = previous.pop()
            signal.signal(signum, handler)
