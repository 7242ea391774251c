"""The agent's memory between requests: what one stamp frees is kept for the next, and given back to the
system once the agent has been idle for a while.

Every stamp touches tens of megabytes that live for one request: the upload's frames, the document made
contiguous, the result's chunks, and the soft token's PIN KDF (argon2id, 64 MiB per login). With glibc's
defaults each of those large blocks is mapped fresh from the system and handed back when freed (blocks over
the mmap threshold, thread arenas' heaps, a heap top beyond the trim threshold), so the next request
faults every page in again. Measured with bench/agent_roundtrip.py on a 21 MB PDF: ~21,500-32,600 page
faults per round trip (85-130 MB of fresh pages), about a fifth of the agent's CPU. Kept in one heap that
is not trimmed on free, the same round trip faults in a few pages.

The memory kept is what the largest request needed (documents are capped by limits.max_document_bytes),
and only for as long as requests keep coming: once no message has arrived on any connection for
`idle_memory_release_s` (config) and no call runs, malloc_trim() hands every free page back (their
contents go with them: the system zeroes a page before it hands it out again). Where the C library is not
glibc (Windows, macOS, musl) nothing changes.
"""

from __future__ import annotations

import asyncio
import functools
import os
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


@functools.cache
def _glibc() -> Any:
    """glibc with mallopt() and malloc_trim() declared; None for any other C library (or none)."""
    try:
        import ctypes

        lib = ctypes.CDLL(None)
        lib.gnu_get_libc_version  # noqa: B018 - only glibc has it; its mallopt is the one described above
        lib.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        lib.mallopt.restype = ctypes.c_int
        lib.malloc_trim.argtypes = (ctypes.c_size_t,)
        lib.malloc_trim.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):  # no ctypes in this build, or not glibc
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
    return all(lib.mallopt(param, value) == 1 for param, value in settings)


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
    """Gives the kept memory back once the agent is idle: no message for `idle_seconds` and no call running
    (`busy()` says whether one runs). `clock` is time.monotonic; tests pass their own."""

    def __init__(
        self, busy: Callable[[], bool], idle_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._busy = busy
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._last = clock()
        self._used = False  # a message came since the last trim: there may be something to give back

    def note_activity(self) -> None:
        """A message arrived (called for every frame: it only notes the time)."""
        self._last = self._clock()
        self._used = True

    def due(self) -> bool:
        """Is it time to give memory back: idle long enough, with something used since the last time?"""
        return self._used and not self._busy() and self._clock() - self._last >= self.idle_seconds

    async def run(self) -> None:
        """Look every half idle period, for as long as the agent runs; the trim itself runs off the loop."""
        while True:
            await asyncio.sleep(self.idle_seconds / 2)
            if self.due():
                self._used = False
                before, returned, after = await asyncio.to_thread(_measured_give_back)
                log_event(
                    "memory_given_back", returned=returned, resident_before=before, resident_after=after
                )


def _measured_give_back() -> tuple[int | None, bool, int | None]:
    """give_back(), with the resident size before and after (logged: what the trim returned)."""
    before = resident_bytes()
    returned = give_back()
    return before, returned, resident_bytes()
