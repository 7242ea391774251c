"""Read a whole document file into one `bytes`, its memory prepared in one request instead of page by page.

A 50 MB document read with Path.read_bytes() lands in memory the kernel hands out 4 KiB at a time: 13,000
page faults, each a trap into the kernel (dearer still in a virtual machine), about half of the read's
time. `sealbridge verify` reads the file before anything else can start, so this is time the user waits for.
The bytes object is made empty first (bytes(n): zero pages from calloc, not touched yet), its memory
advised, then filled from the file before anyone else holds it: the same thing CPython's own readers do
when they build a bytes object in place. The advice is one of two:

- Huge pages (madvise(MADV_HUGEPAGE), which most Linux desktops honour in their `madvise` mode): the memory
  comes 2 MiB at a time, and the read takes half as long (27 ms -> 14 ms for 50 MB on a desktop).
- Except in a virtual machine whose hypervisor takes free memory back (free page reporting: virtio-balloon's
  REPORTING feature, Hyper-V's balloon). The guest then reports its free 2 MiB blocks, the host unmaps
  them, and a huge page is such a block: zeroing it faults every piece of it in from the host. Measured
  here (KVM, reporting at order 9), 52 MB read a few seconds after the last large allocation, as a user
  runs one command: 128-184 ms on huge pages, 38-60 ms on small ones, which come from the guest's own
  recently used memory. There the pages are asked for all at once instead (MADV_POPULATE_WRITE, Linux
  5.14+): one request rather than 13,000 traps, 36 against 42 ms (medians of 15).

Elsewhere (another system, a small file, no libc), and whenever the file does not read back at the size it
had, it is a plain read of the file as it is then, of at most `most` bytes: a file that keeps growing (a
log, a device, a download still running) is not read without end.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

#: Below this the faults saved are not worth a system call.
HUGE_FROM = 8 << 20
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # Linux, every architecture
_MADV_POPULATE_WRITE = 23
_VIRTIO_BALLOON = "0x0005"  # the virtio device id of a memory balloon
_VIRTIO_BALLOON_F_REPORTING = 5  # its feature bit for free page reporting


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
    huge = huge_pages_come_warm()
    page = _HUGE_PAGE if huge else os.sysconf("SC_PAGE_SIZE")
    start = -(-address // page) * page  # whole pages inside the buffer only
    end = (address + size) // page * page
    if end > start:  # a refusal (THP off, an old kernel) costs nothing: the read is as before
        advice = _MADV_HUGEPAGE if huge else _MADV_POPULATE_WRITE
        libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), advice)
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
def huge_pages_come_warm(sysfs: Path = Path("/sys")) -> bool:
    """Are huge pages worth asking for: False where the hypervisor takes free 2 MiB blocks back (the kernel
    can report free pages, and a virtio balloon negotiated REPORTING or Hyper-V's balloon is bound), True
    everywhere else, a physical machine among them."""
    if not (sysfs / "module" / "page_reporting").is_dir():
        return True  # a kernel without free page reporting gives back nothing
    if any((sysfs / "bus" / "vmbus" / "drivers" / "hv_balloon").glob("*-*-*-*-*")):
        return False  # a bound Hyper-V balloon reports free pages where the host offers it
    try:
        devices = list((sysfs / "bus" / "virtio" / "devices").iterdir())
    except OSError:  # no virtio bus
        return True
    for device in devices:
        try:
            if (device / "device").read_text().strip() != _VIRTIO_BALLOON:
                continue
            features = (device / "features").read_text().strip()
        except OSError:  # a device going away, or one this user may not read: not known to report
            continue
        if features[_VIRTIO_BALLOON_F_REPORTING : _VIRTIO_BALLOON_F_REPORTING + 1] == "1":
            return False
    return True


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
