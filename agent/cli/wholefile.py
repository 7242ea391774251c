"""Read a whole document file into one `bytes`, on huge pages where Linux gives them on request.

A 50 MB document read with Path.read_bytes() lands in memory the kernel hands out 4 KiB at a time: 13,000
page faults, each a trap into the kernel (dearer still in a virtual machine), about half of the read's
time. Most Linux desktops run transparent huge pages in `madvise` mode: memory asked for with
madvise(MADV_HUGEPAGE) comes 2 MiB at a time, and the same read takes half as long (27 ms -> 14 ms here).
`sealbridge verify` reads the file before anything else can start, so this is time the user waits for.

The bytes object is made empty first (bytes(n): zero pages from calloc, not touched yet), its memory
advised, then filled from the file before anyone else holds it: the same thing CPython's own readers do
when they build a bytes object in place. Elsewhere (another system, a small file, no libc), and whenever
the file does not read back at the size it had, it is a plain read of the file as it is then, of at most
`most` bytes: a file that keeps growing (a log, a device, a download still running) is not read without end.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

#: Below this the faults saved are not worth a system call.
HUGE_FROM = 8 << 20
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # Linux, every architecture


def read_whole(path: Path, size: int, most: int | None = None) -> bytes:
    """The bytes of `path`, whose size was found to be `size` just before; at most `most` of them when
    given (the caller's limit plus one, to tell a file over it). Raises what reading raises (OSError and its
    subclasses), as Path.read_bytes()."""
    libc = _libc() if sys.platform == "linux" and size >= HUGE_FROM else None
    if libc is None:
        return _read_plain(path, size, most)
    import ctypes  # only here: a small document's command does not load it

    data = bytes(size)
    address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    if not address:
        return _read_plain(path, size, most)
    start = -(-address // _HUGE_PAGE) * _HUGE_PAGE  # whole huge pages inside the buffer only
    end = (address + size) // _HUGE_PAGE * _HUGE_PAGE
    if end > start:  # a refusal (THP off, an old kernel) costs nothing: the read is as before
        libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_HUGEPAGE)
    with open(path, "rb", buffering=0) as file:
        target = memoryview((ctypes.c_char * size).from_address(address)).cast("B")
        try:
            filled = _fill(file, target)
        finally:
            target.release()
        grown = filled == size and file.read(1) != b""
    if filled != size or grown:  # the file changed size meanwhile: read it as it is now
        del data
        return _read_plain(path, size, most)
    return data


def _read_plain(path: Path, size: int, most: int | None) -> bytes:
    if most is None:
        return path.read_bytes()
    with open(path, "rb") as file:
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


def _fill(file: Any, target: memoryview) -> int:
    filled = 0
    while filled < len(target):
        got = file.readinto(target[filled:])
        if not got:
            break
        filled += got
    return filled


@functools.cache
def _libc() -> Any:
    try:
        import ctypes

        libc = ctypes.CDLL(None)  # this process's own symbols, the C library's among them
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        libc.madvise.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError):  # no ctypes in this build, no madvise in this libc
        return None
    return libc
