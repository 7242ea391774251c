"""Have a forked child read a large document into memory this process shares, while this process loads.

`sealbridge verify` of a large PDF reads the file (a 50 MB one: 30-45 ms, most of it page faults) before
anything else can start, and only then forks the child that hashes it (stamping.pdf.sigdigest). Both
can start at once instead: the child is forked first and reads the file itself, straight into the very
`bytes` object this process goes on with, then hashes it; this process meanwhile imports the verifier.
The second core then works from the start.

The child and this process must see the same bytes: a second read of a file that changed in between
would check one document's signatures against another's digests. So the child reads, and this process
takes what it read:

- The `bytes` object is made empty first (bytes(n): zero pages from calloc, not touched yet, as
  agent.cli.wholefile does). The whole pages inside its buffer are then mapped again, shared between this
  process and the child to be forked (mmap MAP_SHARED|MAP_FIXED over them), so what the child writes there
  this process sees.
- The few bytes before the first whole page (whose page also holds the object's header) and after the
  last stay private: the child sends them down a pipe once it has read the file, with word that the
  read is whole, and this process copies them in.
- The child reads from the file this process opened (pread: not a path that could be swapped meanwhile),
  exactly the size this process found, and checks that the file did not grow. Anything else (a short read,
  an error, a child that never answers) and this process reads the file itself, as before.

The object is kept for the life of the process (KEPT): were it freed, its memory could go back to the
C library's heap still shared with a child. Linux only (MAP_FIXED over part of a mapping, pread).
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import select
import sys
import time

from agent.cli.wholefile import buffer_address, libc, read_into

_MAP_FIXED = 0x10  # Linux, every architecture
_PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE
#: The objects whose memory was shared with a child: never freed (see the module's description).
KEPT: list[bytes] = []


class SharedRead:
    """A `bytes` of the file's size whose whole pages are shared with the child about to be forked.
    fill() in the child reads the file into it; take() in this process waits for that and returns it."""

    read_by = "by the child"

    def __init__(
        self, data: bytes, address: int, low: int, high: int, fd: int, pipe: tuple[int, int]
    ) -> None:
        self.data = data
        self._address, self._low, self._high = address, low, high
        # The bytes outside the shared pages, which come down the pipe: before the first, after the last.
        self._head, self._tail = low - address, address + len(data) - high
        self._fd = fd
        self._read_end, self._write_end = pipe

    @classmethod
    def prepare(cls, fd: int, size: int) -> SharedRead | None:
        """The buffer for a file of `size` bytes open at `fd`; None where it cannot be shared (the caller
        reads the file as usual)."""
        lib = libc() if sys.platform == "linux" and size > 2 * mmap.PAGESIZE else None
        if lib is None:
            return None
        data = bytes(size)
        address = buffer_address(data)
        if address is None:
            return None
        page = mmap.PAGESIZE
        low, high = -(-address // page) * page, (address + size) // page * page
        flags = mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | _MAP_FIXED
        # Kept whatever happens: a MAP_FIXED that fails may already have unmapped the old pages, and memory
        # with a hole in it must never be handed out again.
        KEPT.append(data)
        got = lib.mmap(ctypes.c_void_p(low), ctypes.c_size_t(high - low), _PROT_RW, flags, -1, 0)
        if got != low:
            return None
        try:
            pipe = os.pipe()
        except OSError:
            return None
        return cls(data, address, low, high, fd, pipe)

    def fill(self) -> bool:
        """(In the child.) Read the file into the buffer and tell the parent: the bytes outside the shared
        pages and whether the read is whole. True when it is (the child may then hash the buffer)."""
        self._close("_read_end")
        size = len(self.data)
        try:
            whole = read_into(self._fd, self._address, size)
        except OSError:
            whole = False
        message = b"1" + self.data[: self._head] + self.data[size - self._tail :] if whole else b"0"
        write_end, self._write_end = self._write_end, -1
        try:
            with open(write_end, "wb", closefd=True) as out:
                out.write(message)  # at most 8 KB: the pipe takes it at once
        except OSError:
            return False
        return whole

    def unchanged(self) -> bool:
        """Always: the bytes were read into this process's memory, which nobody else writes."""
        return True

    def forked(self) -> None:
        """(In this process, once the child is forked.) The child alone writes to the pipe."""
        self._close("_write_end")

    def abandon(self) -> None:
        """Not wanted (no child was forked, or the file is read again): the pipe is closed."""
        self._close("_read_end")
        self._close("_write_end")

    def _close(self, end: str) -> None:
        # Each end once: a number closed twice could by then be another file's.
        fd = getattr(self, end)
        setattr(self, end, -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def take(self, timeout: float) -> bytes | None:
        """The file's bytes once the child read them whole; None if it did not (or took over `timeout`
        seconds): the caller then reads the file itself."""
        head, tail = self._head, self._tail
        want = 1 + head + tail
        pieces: list[bytes] = []
        got = 0
        deadline = time.monotonic() + timeout
        try:
            while got < want:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._read_end], [], [], left)[0]:
                    return None
                piece = os.read(self._read_end, want - got)
                if not piece:
                    break
                pieces.append(piece)
                got += len(piece)
        except (OSError, ValueError):  # ValueError: a descriptor past what select() takes
            return None
        finally:
            self._close("_read_end")
        message = b"".join(pieces)
        if len(message) != want or message[:1] != b"1":
            return None
        ctypes.memmove(self._address, message[1 : 1 + head], head)
        ctypes.memmove(self._high, message[1 + head :], tail)
        return self.data
