"""The agent's memory between requests: what one stamp frees is kept for the next, and given back to the
system once the agent has been idle for a while.

Every stamp touches tens of megabytes that live for one request: the upload's frames, the document made
contiguous, the result's chunks, and the soft token's PIN KDF (argon2id, 64 MiB per login). With glibc's
defaults each of those large blocks is mapped fresh from the system and handed back when freed (blocks over
the mmap threshold, thread arenas' heaps, a heap top beyond the trim threshold), so the next request
faults every page in again. Measured with bench/agent_roundtrip.py on a 21 MB PDF: ~21,500-32,600 page
faults per round trip (85-130 MB of fresh pages), about a fifth of the agent's CPU. Kept in one heap that
is not trimmed on free, the same round trip faults in a few pages.

What is kept is bounded twice. In time: once no call but the extension's keepalive (`hello`, every 20 s)
has run and no upload frame has arrived for `idle_memory_release_s` (config), malloc_trim() hands the
heap's free whole pages back; their contents go with them (the system zeroes a page before it hands it out
again). In size: when the last running call ends with the agent grown by more than KEEP_AT_MOST since the
last trim, the free pages go back at once. Where the C library is not glibc (Windows, macOS, musl) nothing
changes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from agent.server.logs import log_event

# glibc's mallopt() parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8

#: The largest trim threshold mallopt takes (a C int): a free never trims the heap below it.
_NO_TRIM_ON_FREE = 2**31 - 1
#: Growth of the resident memory since the last trim past which the last running call's end gives the free
#: pages back at once instead of keeping them. A stream of 20-30 MB documents levels off ~330 MB above the
#: agent's start (bench/agent_roundtrip.py); 200 MiB ones would hold several times that until it is idle.
KEEP_AT_MOST = 512 << 20
#: The calls that do not count as use: the extension's keepalive (extension/background/agent-client.js).
KEEPALIVE_CALLS = frozenset({"hello"})


@functools.cache
def _glibc() -> Any:
    """glibc with mallopt() and malloc_trim() declared; None for any other C library (or none)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        lib = ctypes.CDLL(None)
        lib.gnu_get_libc_version  # noqa: B018 - only glibc has it; its mallopt is the one described above
        lib.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        lib.mallopt.restype = ctypes.c_int
        lib.malloc_trim.argtypes = (ctypes.c_size_t,)
        lib.malloc_trim.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError, TypeError):  # no ctypes in this build, or not glibc
        return None
    return lib


def keep_freed_memory() -> bool:
    """Make this process keep what it frees (glibc: one arena for every thread, no separate mapping for a
    large block, no trim on free); True when the C library took all three settings. Call it before any
    thread starts: a thread that already has an arena of its own keeps it."""
    lib = _glibc()
    if lib is None:
        return False
    settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, _NO_TRIM_ON_FREE))
    taken = [lib.mallopt(param, value) == 1 for param, value in settings]  # each tried, whatever the others
    return all(taken)


def give_back() -> bool:
    """Return every free page of the heap to the system; True when some memory was returned."""
    lib = _glibc()
    return bool(lib is not None and lib.malloc_trim(0))


def resident_bytes() -> int | None:
    """This process's resident memory (Linux); None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class IdleTrim:
    """Gives the kept memory back once the agent is idle (no use for `idle_seconds` and no call running),
    or at once when the last running call ends with the agent grown by more than `keep_at_most` since the
    last trim. `clock` and `resident` are time.monotonic and resident_bytes; tests pass their own."""

    def __init__(
        self,
        idle_seconds: float,
        keep_at_most: int = KEEP_AT_MOST,
        clock: Callable[[], float] = time.monotonic,
        resident: Callable[[], int | None] = resident_bytes,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.keep_at_most = keep_at_most
        self._clock = clock
        self._resident = resident
        self._last = clock()
        self._used = False  # used since the last idle trim: there may be something to give back
        self._calls = 0  # calls running (not keepalives), whatever connection they came on
        # What the last trim left (the agent's size at start before the first): memory above it is kept.
        self._baseline = resident() or 0
        #: The trim running or last run (tests await it).
        self.trimming: asyncio.Task[None] | None = None

    def note_activity(self) -> None:
        """The agent was used (an upload frame, a connection's end): the idle time starts again."""
        self._last = self._clock()
        self._used = True

    def call_started(self) -> None:
        """A call (not a keepalive) began: its memory is in use until call_ended()."""
        self._calls += 1
        self.note_activity()

    def call_ended(self) -> None:
        """A call ended (however): the idle time starts again, and when no other call runs and the agent
        grew by more than keep_at_most since the last trim, the free pages go back at once."""
        self._calls = max(0, self._calls - 1)
        self.note_activity()
        if self._calls or _glibc() is None:
            return
        size = self._resident()
        if size is not None and size - self._baseline > self.keep_at_most:
            self._start_trim(idle=False)

    def due(self) -> bool:
        """Is it time to give memory back: idle long enough, with something used since the last time?"""
        return self._used and not self._calls and self._clock() - self._last >= self.idle_seconds

    async def run(self) -> None:
        """Look every half idle period (so the memory goes back 1 to 1.5 idle periods after the last use),
        for as long as the agent runs; nothing to do where the C library is not glibc."""
        if _glibc() is None:
            return
        while True:
            await asyncio.sleep(self.idle_seconds / 2)
            if self.due():
                self._start_trim(idle=True)

    def _start_trim(self, idle: bool) -> None:
        if self.trimming is not None and not self.trimming.done():
            return
        if idle:
            # An at-once trim leaves this set: what is freed after it (a cancelled call's thread ending
            # later) still goes back once the agent is idle.
            self._used = False
        self.trimming = asyncio.get_running_loop().create_task(self._trim())

    async def _trim(self) -> None:
        try:
            before, returned, after = await asyncio.to_thread(self._measured_give_back)
        except Exception as exc:  # noqa: BLE001 - never expected; the memory then stays kept
            log_event("memory_give_back_failed", logging.WARNING, error=type(exc).__name__)
            return
        if after is not None:
            self._baseline = after
        log_event("memory_given_back", returned=returned, resident_before=before, resident_after=after)

    def _measured_give_back(self) -> tuple[int | None, bool, int | None]:
        """give_back(), with the resident size before and after (logged: what the trim returned)."""
        before = self._resident()
        returned = give_back()
        return before, returned, self._resident()
