"""Read a whole document file into one `bytes`, on huge pages while they come quickly, else on small pages
asked for all at once.

A 50 MB document read with Path.read_bytes() lands in memory the kernel hands out 4 KiB at a time: 13,000
page faults, each a trap into the kernel (dearer still in a virtual machine), about half of the read's
time. `sealbridge verify` reads the file before anything else can start, so this is time the user waits for.
The bytes object is made empty first (bytes(n): zero pages from calloc, not touched yet), its memory
prepared, then filled from the file before anyone else holds it: the same thing CPython's own readers do
when they build a bytes object in place. The memory is prepared 2 MiB at a time:

- Each whole 2 MiB of the buffer is advised for a huge page (madvise(MADV_HUGEPAGE), which most Linux
  desktops honour in their `madvise` mode) and touched, which is when the kernel zeroes it: 0.1-0.3 ms.
  On huge pages the read takes half as long (27 ms -> 14 ms for 50 MB on a desktop).
- Until one is slow (COLD_HUGE_PAGE_NS). In a virtual machine whose hypervisor takes free memory back (free
  page reporting: virtio-balloon's REPORTING, as this KVM guest has, or Hyper-V's balloon) the guest reports
  its free 2 MiB blocks and the host unmaps them; a huge page that is such a block faults every piece of
  itself in from the host while it is zeroed, 4-8 ms. Blocks freed in the last seconds are not reported
  yet, and the kernel hands those out first. Measured here, 52 MB read a few seconds after the last large
  allocation (as a user runs one command): 95-223 ms on huge pages alone, 42-68 ms on small pages; run
  back to back, 14-18 ms on huge pages.
- The rest of the buffer, once a huge page was slow (or refused, or not given: THP off), is asked for
  on small pages at once (MADV_POPULATE_WRITE, Linux 5.14+): one request rather than thousands of traps,
  36 against 42 ms for 52 MB (medians of 15). These come from the memory the guest used recently.

Elsewhere (another system, a small file, no libc), and whenever the file does not read back at the size it
had, it is a plain read of the file as it is then, of at most `most` bytes: a file that keeps growing (a
log, a device, a download still running) is not read without end.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

#: Below this the faults saved are not worth a system call.
HUGE_FROM = 8 << 20
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # Linux, every architecture
_MADV_POPULATE_WRITE = 23
#: A huge page whose zeroing takes longer than this came from memory the host had taken back: the rest of
#: the buffer goes on small pages. Zeroing 2 MiB takes 0.1-0.3 ms, such a page 4-8 ms.
COLD_HUGE_PAGE_NS = 1_500_000
#: Faster than this, the touch faulted in one small page (a few microseconds), not a zeroed 2 MiB.
NOT_HUGE_PAGE_NS = 25_000


def read_whole(path: Path, size: int, most: int | None = None) -> bytes:
    """The bytes of `path`, whose size was found to be `size` just before; at most `most` of them when
    given (the caller's limit plus one, to tell a file over it). Raises what reading raises (OSError and its
    subclasses), as Path.read_bytes()."""
    lib = libc() if sys.platform == "linux" and size >= HUGE_FROM else None
    if lib is None:
        return _read_plain(path, size, most)
    data = bytes(size)
    address = buffer_address(data)
    if address is None:
        return _read_plain(path, size, most)
    _prepare(lib, address, size)
    from stamping.pinnedfile import open_regular_file  # here: verify_early loads this module before its fork

    with open_regular_file(path, buffering=0) as file:
        whole = read_into(file.fileno(), address, size)
    if not whole:  # the file changed size meanwhile: read it as it is now
        del data
        return _read_plain(path, size, most)
    return data


def _read_plain(path: Path, size: int, most: int | None) -> bytes:
    from stamping.pinnedfile import open_regular_file

    # Opened as a regular file only: the path may have been replaced by a pipe since it was looked at.
    with open_regular_file(path) as file:
        if most is None:
            return file.read()
        # The size it had and one byte more, to see whether it grew: not a buffer of `most` bytes (200 MiB
        # of address space for every small document, refused outright where memory is not overcommitted).
        data = file.read(min(most, size + 1))
        if len(data) <= size:
            return data
        parts, total = [data], len(data)
        while total < most and (piece := file.read(min(most - total, 1 << 20))):
            parts.append(piece)
            total += len(piece)
        return b"".join(parts)


def read_into(fd: int, address: int, size: int) -> bool:
    """Read the file open at `fd` from its start (pread: its offset is left alone) into the `size` bytes of
    memory at `address`; True when it held exactly that many bytes, no fewer and no more. Raises OSError as
    reading does. (agent.cli.sharedread reads the same way, in the child, into memory it shares.)"""
    import ctypes  # only here: a small document's command does not load it

    target = memoryview((ctypes.c_char * size).from_address(address)).cast("B")
    try:
        filled = 0
        while filled < size:
            got = os.preadv(fd, [target[filled:]], filled)
            if not got:
                break
            filled += got
    finally:
        target.release()
    return filled == size and os.pread(fd, 1, size) == b""


def _prepare(libc: Any, address: int, size: int) -> None:
    """Have the kernel back the `size` bytes at `address` with memory now: huge pages while they come
    quickly, then small ones (see the module's description). Refusals cost nothing: what is not prepared
    is faulted in by the read, as it always was."""
    import ctypes

    small = os.sysconf("SC_PAGE_SIZE")
    low, high = -(-address // small) * small, (address + size) // small * small  # whole pages only
    first_huge = at = prepared = -(-address // _HUGE_PAGE) * _HUGE_PAGE
    while at + _HUGE_PAGE <= address + size:
        if libc.madvise(ctypes.c_void_p(at), ctypes.c_size_t(_HUGE_PAGE), _MADV_HUGEPAGE) != 0:
            break
        took = _touch(at)
        if took < NOT_HUGE_PAGE_NS:
            break  # no 2 MiB were zeroed: huge pages are off (THP `never`), this one goes on small pages too
        at = prepared = at + _HUGE_PAGE
        if took > COLD_HUGE_PAGE_NS:
            break
    for start, end in ((low, min(first_huge, high)), (prepared, high)):
        if end > start:
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_POPULATE_WRITE)


def _touch(address: int) -> int:
    """Nanoseconds taken to write one byte at `address`: the fault that zeroes its page."""
    import ctypes

    before = time.perf_counter_ns()
    ctypes.memset(address, 0, 1)
    return time.perf_counter_ns() - before


def buffer_address(data: bytes) -> int | None:
    """Where a bytes object's contents are in memory (None where ctypes cannot say)."""
    import ctypes

    return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or None


@functools.cache
def libc() -> Any:
    """The C library with madvise(), mmap() and munmap() declared (agent.cli.sharedread and mappeddoc map too);
    None where there is none to call."""
    try:
        import ctypes

        lib = ctypes.CDLL(None)  # this process's own symbols, the C library's among them
        lib.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        lib.madvise.restype = ctypes.c_int
        lib.mmap.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_long,
        )
        lib.mmap.restype = ctypes.c_void_p
        lib.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        lib.munmap.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):  # no ctypes in this build, no madvise in this libc
        return None
    return lib
