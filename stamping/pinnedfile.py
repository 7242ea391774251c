"""A document file opened once, read by everything that needs it, and checked for writes at the end.

Stamping a PDF from a path reads it three ways: the hashing copy into the output (stamping/copyhash.py, on
worker threads), pyHanko's parser and pdfium's text search. Each opening the path on its own could meet a
different file when the path is replaced meanwhile (a download or a scanner saving the file again): the
update pyHanko builds for one file would be appended to a copy of another, or a digest added later would
cover bytes that were never copied. So the path is opened once, and every reader reads that open file at
its own position (positioned reads: the threads share no file offset), never past the size it had when
opened. A file written to while it is stamped is refused (DOC_CHANGED: its size or modification time
moved, checked once the stamp has read all it needs; a read that meets a truncated file says so at once)
and the stamp's output is discarded. A path replaced by another file changes
nothing: the open file is still the one stamped, whole.
"""

from __future__ import annotations

import io
import os
import stat
import threading
from typing import Any, BinaryIO, NoReturn

from formats.errors import SealBridgeError

#: What the readers handed out buffer (pyHanko's parser reads a few bytes at a time).
READ_BUFFER = 8192

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
#: Only for the open itself: a FIFO would otherwise wait there for a writer (POSIX; Windows has none).
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def require_regular_file(path: str | os.PathLike[str], mode: int) -> None:
    """BAD_REQUEST unless `mode` (of a stat of `path`) is a regular file's: a document is never read from a
    pipe, device or socket (the open of a pipe with no writer would wait for ever)."""
    if not stat.S_ISREG(mode):
        raise SealBridgeError("BAD_REQUEST", f"{os.fspath(path)} is not a regular file")


def open_regular_fd(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """A descriptor reading `path` and its fstat, if it is a regular file (BAD_REQUEST otherwise), found
    so without waiting: a pipe is opened without blocking, seen to be one, and closed. Raises OSError as
    os.open() does."""
    fd = os.open(path, _OPEN_FLAGS | _NONBLOCK)
    try:
        opened = os.fstat(fd)
        require_regular_file(path, opened.st_mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


def open_regular_file(path: str | os.PathLike[str], buffering: int = -1) -> BinaryIO:
    """`path` opened for reading as open(path, "rb", buffering) opens it, if it is a regular file (see
    open_regular_fd)."""
    fd, _ = open_regular_fd(path)
    return os.fdopen(fd, "rb", buffering)


class PinnedFile:
    """`path` opened for reading: its `size` then, readers of it (reader(), read_at()), and
    check_unchanged() against the state it was opened in. Closed by close(), a with block, or when dropped."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = -1
        try:
            fd, opened = open_regular_fd(self.path)
        except FileNotFoundError:
            raise SealBridgeError("FILE_NOT_FOUND", self.path) from None
        except OSError as exc:
            raise SealBridgeError("BAD_REQUEST", f"cannot read {self.path}: {exc.strerror}") from None
        self._fd = fd
        self._opened = _state(opened)
        self.size = opened.st_size
        # Where the platform has no positioned read (Windows), seek and read happen together under this.
        self._lock = threading.Lock()

    def __enter__(self) -> PinnedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def read_at(self, buffer: Any, offset: int) -> int:
        """Fill `buffer` (a writable bytes-like) from `offset`, short only at the size it had when opened;
        the count read. DOC_CHANGED if the file ends before that size now."""
        view = memoryview(buffer).cast("B")
        want = max(0, min(len(view), self.size - offset))
        done = 0
        while done < want:
            n = self._read_into(view[done:want], offset + done)
            if not n:
                self._changed()  # truncated since it was opened
            done += n
        return done

    def _read_into(self, view: memoryview, offset: int) -> int:
        if self._fd < 0:
            raise ValueError("the document is closed")
        if hasattr(os, "preadv"):
            return os.preadv(self._fd, [view], offset)
        if hasattr(os, "pread"):
            data = os.pread(self._fd, len(view), offset)
        else:
            with self._lock:
                os.lseek(self._fd, offset, os.SEEK_SET)
                data = os.read(self._fd, len(view))
        view[: len(data)] = data
        return len(data)

    def reader(self, buffer_size: int = READ_BUFFER) -> BinaryIO:
        """A new reader of the whole file from offset 0, with its own position (a binary stream)."""
        return io.BufferedReader(_PinnedRaw(self), buffer_size)  # type: ignore[return-value]

    def check_unchanged(self) -> None:
        """DOC_CHANGED if the file was written to (or truncated) since it was opened."""
        try:
            now = _state(os.fstat(self._fd))
        except (OSError, ValueError):
            now = None
        if now != self._opened:
            self._changed()

    def _changed(self) -> NoReturn:
        raise SealBridgeError(
            "DOC_CHANGED", f"{self.path} was written to while it was being stamped; nothing was saved"
        )


def _state(st: os.stat_result) -> tuple[int, int]:
    # Not the change time: the path being replaced (the file unlinked) moves it too, and that changes
    # nothing read here. A write moves the modification time (within the file system's resolution).
    return st.st_size, st.st_mtime_ns


class RangeReader(io.RawIOBase):
    """A read-only, seekable raw stream of `length` bytes; subclasses fill readinto from position `_pos`."""

    def __init__(self, length: int) -> None:
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


class _PinnedRaw(RangeReader):
    """A raw stream over a PinnedFile with a position of its own."""

    def __init__(self, pinned: PinnedFile) -> None:
        super().__init__(pinned.size)
        self._pinned = pinned

    def readinto(self, buffer: Any) -> int:
        n = self._pinned.read_at(buffer, self._pos)
        self._pos += n
        return n
