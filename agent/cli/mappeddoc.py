"""A large document as a `bytes` object whose contents are the file's own pages, mapped, while a read lease
keeps the file as it is.

`sealbridge verify` of a large PDF needs the whole file in memory, twice over: the child that hashes it
and this process that parses it. Reading it (agent.cli.sharedread) makes fresh memory for every page: for
52 MB, 13,000 pages that the kernel allocates, zeroes, fills and, when the command ends, frees again, about
43 ms of CPU in the child and 12 ms at the end, while the user waits. The file's pages are in the kernel's
page cache already; mapping them costs neither.

What a mapping does not give by itself is what a read does: bytes that cannot change while they are
checked. A file that another program rewrites meanwhile would have one document's signatures checked
against another's digests, and a file cut short would end the command with SIGBUS. So a document is mapped
only under a read lease (fcntl F_SETLEASE, F_RDLCK), which the kernel grants only while nobody has the file
open for writing, and which then holds back whoever opens it for writing or truncates it with truncate()
(their call waits; one that may not wait gets EAGAIN) until the lease is let go of or the system's
lease-break-time has passed since the first such attempt. The command keeps it until it ends (SIGIO, the
request to let go, is ignored while it is held), and the descriptor it was taken on stays open as long:
on overlayfs (containers) the mapping holds the file below, not the one the lease is on. Before its
report goes out the command asks whether a writer came meanwhile (unchanged()): the lease is then being
broken, so the file may since have changed, and the command verifies a fresh read of it instead.

An open() with O_RDONLY|O_TRUNC truncates without breaking a read lease. So a document is mapped only
when nobody but its owner can write it: this process's own file (the lease is the owner's anyway, or
CAP_LEASE's), with neither group nor others allowed to write; a program of the owner's that cuts it
short that way ends the command (SIGBUS), as it could kill it. Documents are mapped only where
lease-break-time is long enough (LEASE_BREAK_AT_LEAST) and up to MAPPED_UP_TO bytes. Anyone else's file, a
file others may write or that is open for writing, a file system without leases, another system, and
the document is read as before.

Python has no `bytes` over memory it did not allocate, and the verifier, pyHanko's reader and the hashing
all take `bytes`. The object is therefore laid out here, as CPython lays out a bytes object (refcount,
type, size, hash, then the contents and a closing NUL): its header at the end of a page of its own, the
file mapped right after it (a file's pages map only at page boundaries). It is made immortal (a refcount
that never reaches zero), so nothing ever tries to free it; the memory stays for the life of the process.
Only where the layout is the one known here (CPython 3.11-3.14, 64-bit, with the GIL, no debug build's
extra fields); elsewhere the document is read.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import mmap
import os
import signal
import sys
from typing import Any

from agent.cli.wholefile import libc

#: Up to this size a verification ends far within the lease-break time (a 512 MiB PDF: its hashing ~2.5 s).
#: Beyond formats.limits.MAX_DOCUMENT_BYTES (200 MiB) today, which the CLI checks first.
MAPPED_UP_TO = 512 << 20
#: The system's lease-break-time (seconds) must be at least this for a document to be mapped.
LEASE_BREAK_AT_LEAST = 20
_LEASE_BREAK_TIME = "/proc/sys/fs/lease-break-time"
_MAP_FIXED = 0x10  # Linux, every architecture
_ANON_PRIVATE = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
_MADV_POPULATE_READ = 22
_MAP_FAILED = ctypes.c_void_p(-1).value
#: A refcount CPython never counts down to zero: immortal in 3.12-3.14 (its low 32 bits, taken as signed,
#: are negative), and in 3.11 far beyond any count of references.
_IMMORTAL = 3 << 30
#: ob_refcnt, ob_type, ob_size, ob_shash: the header before a 64-bit CPython bytes object's contents.
_HEADER = 4 * 8
#: The objects made here (never freed).
KEPT: list[bytes] = []


def layout_known() -> bool:
    """Is a bytes object laid out here as this module lays it out?"""
    return (
        sys.platform == "linux"
        and sys.implementation.name == "cpython"
        and (3, 11) <= sys.version_info[:2] <= (3, 14)
        and ctypes.sizeof(ctypes.c_void_p) == 8
        and bytes.__basicsize__ == _HEADER + 1  # the header, and the closing NUL
        and bytes.__itemsize__ == 1
        and not _free_threaded()  # lays objects out otherwise
        and not hasattr(sys, "gettotalrefcount")  # a debug build
    )


def _free_threaded() -> bool:
    if sys.version_info < (3, 13):
        return False
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


class MappedDocument:
    """The file open at `fd`, of `size` bytes, as `bytes` (`data`) over its mapped pages, under a read
    lease. Has what agent.cli.sharedread.SharedRead has for verify_early."""

    read_by = "mapped"

    def __init__(self, data: bytes, start: int, length: int, held: int) -> None:
        self.data = data
        self._start, self._length = start, length
        self._held = held  # the descriptor the lease is on, open until abandon() or the process's end

    @classmethod
    def open(cls, fd: int, size: int) -> MappedDocument | None:
        """The document, mapped; None where it cannot be (see the module's description): the caller reads
        it. `fd` (open for reading) stays the caller's: the lease is kept on a duplicate of it."""
        if not (0 < size <= MAPPED_UP_TO) or not layout_known() or not _lease_break_long_enough():
            return None
        lib = libc()
        if lib is None or not _only_the_owner_writes(fd):
            return None
        try:
            held = os.dup(fd)  # inheritable=False: a program the command starts does not hold the lease
        except OSError:
            return None
        sigio = signal.getsignal(signal.SIGIO)
        document = cls._map(lib, held, size)
        if document is None:
            os.close(held)
            if sigio is not None:  # (None: set outside Python, and not changed here either)
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(signal.SIGIO, sigio)
        return document

    @classmethod
    def _map(cls, lib: Any, fd: int, size: int) -> MappedDocument | None:
        if not _take_lease(fd):
            return None
        try:
            # Found before the lease: a file written to meanwhile may be longer (a prefix would be verified)
            # or shorter (pages past its end, SIGBUS). From now on it stays as it is.
            unchanged = os.fstat(fd).st_size == size
        except OSError:
            unchanged = False
        if not unchanged:
            _give_up_lease(fd)
            return None
        page = mmap.PAGESIZE
        length = -(-size // page) * page
        # A page for the header, the file, and a page after it: where the size is a whole number of pages,
        # the closing NUL is the first byte after the file (beyond it within its last page the kernel shows
        # zeroes, and the lease keeps the file from growing there).
        region = lib.mmap(None, page + length + page, mmap.PROT_READ | mmap.PROT_WRITE, _ANON_PRIVATE, -1, 0)
        if region in (None, _MAP_FAILED):
            _give_up_lease(fd)
            return None
        start = region + page
        got = lib.mmap(start, length, mmap.PROT_READ, mmap.MAP_PRIVATE | _MAP_FIXED, fd, 0)
        if got != start:
            lib.munmap(region, page + length + page)
            _give_up_lease(fd)
            return None
        header = (ctypes.c_ssize_t * 4).from_address(start - _HEADER)
        header[0], header[1], header[2], header[3] = _IMMORTAL, id(bytes), size, -1
        data = ctypes.cast(start - _HEADER, ctypes.py_object).value
        KEPT.append(data)
        return cls(data, start, length, fd)

    def unchanged(self) -> bool:
        """Is the lease still whole (no writer has come since it was taken)? Once one has, the lease is
        being broken: the file may have changed since lease-break-time, or will."""
        if self._held < 0:
            return False
        try:
            return fcntl.fcntl(self._held, fcntl.F_GETLEASE) == fcntl.F_RDLCK
        except OSError:
            return False

    def fill(self) -> bool:
        """(In the child, before it hashes.) The file's pages entered in this process's page tables at once
        (MADV_POPULATE_READ, Linux 5.14+; ~5 ms for 52 MB) rather than by a fault every 16 pages as the
        hashing reaches them. Always True: the pages are the file's, whole."""
        lib = libc()
        if lib is not None:
            lib.madvise(self._start, self._length, _MADV_POPULATE_READ)  # an older kernel: faults instead
        return True

    def take(self, timeout: float) -> bytes:  # noqa: ARG002 - SharedRead's signature: nothing to wait for
        return self.data

    def forked(self) -> None:
        """Nothing to do: the child hashes the same pages."""

    def abandon(self) -> None:
        """Not wanted (a pass begun for another file): the file is let go of (its mapping, and the lease
        with it). `data` stays a valid object, of zeroes."""
        lib = libc()
        if lib is not None:
            lib.mmap(self._start, self._length, mmap.PROT_READ, _ANON_PRIVATE | _MAP_FIXED, -1, 0)
        held, self._held = self._held, -1
        if held >= 0:
            os.close(held)


def _lease_break_long_enough() -> bool:
    try:
        with open(_LEASE_BREAK_TIME, "rb") as f:
            return int(f.read().strip() or 0) >= LEASE_BREAK_AT_LEAST
    except (OSError, ValueError):
        return False


def _only_the_owner_writes(fd: int) -> bool:
    """Is the file this process's own, and may neither its group nor others write it?"""
    import stat

    try:
        info = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _take_lease(fd: int) -> bool:
    # A writer's open() sends the lease holder SIGIO, whose default action ends the process: ignored, the
    # writer waits until this process ends (or lease-break-time). Put back by open() if nothing is mapped.
    try:
        signal.signal(signal.SIGIO, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread
        return False
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError:  # EAGAIN: open for writing somewhere; EACCES: not the owner; EINVAL: no leases here
        return False
    return True


def _give_up_lease(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
