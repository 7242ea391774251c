"""Copy a document into an output while hashing it, on a worker thread.

Stamping a PDF starts with exactly this: the original bytes go to the output unchanged (an incremental
update only appends) and every signature's digest, like the audit record's SM3, starts with them. On a
worker thread the copy runs beside other work: OpenSSL hashes (formats.dochash) and the OS reads and
writes without holding the GIL, so on two cores the copy of a large document costs almost nothing next to
pyHanko preparing the update, or, in the CLI, next to importing the stamper and unlocking the token.

The copy reads the document from memory (bytes) or from the file opened once (a path: stamping/pinnedfile.py,
at positions of its own, so the stamper's parser reads the same file beside it), never through a stream
somebody else reads at the same time. Nothing here imports pyHanko, so a caller can start the
copy before loading the stamper.

On its worker thread the copy is two threads: one reads each chunk and hashes it, the other writes the
chunks the first has hashed (the same buffers, so the output is exactly the bytes that were hashed, and
the document is read once). Writing 100 MB into the page cache costs about a tenth of hashing it; on its
own thread it runs beside the hashing instead of after each chunk. The writes may also be held back
(`hold_writes`) until the caller has checked what it must: the hashing starts at once, and at most
HELD_MAX bytes wait in memory for release_writes().
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from formats import dochash
from formats.dochash import Hasher
from formats.errors import SealBridgeError
from stamping import gilhandoff
from stamping.pinnedfile import PinnedFile

# With writeback, the disk write of the copied bytes starts after every this many bytes.
WRITEBACK_EVERY = 32 << 20

# Large enough that the worker seldom needs the GIL (three times a chunk: between reading, hashing and
# writing, which run without it; each time it may wait for a busy main thread), small enough to stream.
# The CLI's copy runs while a soft token's PIN derivation holds its 64 MiB and the stamper loads, the
# CLI's peak memory: 2 MiB chunks keep it 4 MiB below 4 MiB ones (100 MB PDF: 130.4 -> 126.3 MiB), at no
# time measurable here (bench/pdf_stamp.py, 12 interleaved runs per size).
CHUNK = 2 << 20

# The most bytes the hashing thread reads ahead of the writing one (read from a path: its buffers, at
# least two: one being hashed, one being written). Held writes wait for a stamp's checks, 10-20 ms here
# (some 5 MB of hashing: the hashing may wait for them a few ms); each buffer more is a part of the peak
# memory the CLI stamp is measured by.
HELD_MAX = 4 << 20

#: The digests a signature over a copied document may use (pyHanko's md_algorithm names).
_ALGORITHMS = ("sm3", "sha256", "sha384", "sha512")


def new_hash(name: str) -> Hasher:
    if name not in _ALGORITHMS:
        raise SealBridgeError("MECHANISM_UNSUPPORTED", f"digest {name!r}")
    return dochash.new_hash(name)


class HashingCopy:
    """Copies a document into `out` and hashes it with each of `algorithms`: a path (opened once, here),
    a PinnedFile, bytes, or a readable seekable stream (read from offset 0; a stream only with run(), on
    the thread that owns it).

    start() runs the copy on a worker thread; result() waits for it and returns the hash states (to be
    continued by the caller); cancel() stops it early. run() does the same on the calling thread.

    add() asks for more digests once the copy has started (a caller that starts the copy before it knows
    the signature's algorithm): the copy hashes what it already copied once more for them, from the
    document, and goes on with all of them.

    With `writeback` and an `out` that is a file, the copied bytes go to disk while the copy goes on
    (_Writeback), so the fsync that makes the output durable at the end has little left to write.

    With `hold_writes`, start() hashes at once but writes nothing to `out` until release_writes() (or
    result(), or run()); cancel() before it leaves `out` untouched.
    """

    def __init__(
        self,
        document: str | os.PathLike[str] | PinnedFile | bytes | memoryview | BinaryIO,
        out: Any,
        algorithms: Iterable[str],
        writeback: bool = False,
        hold_writes: bool = False,
    ) -> None:
        self._stream: BinaryIO | None = None
        #: The document file, opened once (a path is opened here): what the stamper reads it through too.
        self.pinned: PinnedFile | None = None
        self.view: memoryview | None = None
        if isinstance(document, bytes | memoryview):
            self.view = memoryview(document).cast("B")
            self.size = len(self.view)
        elif isinstance(document, PinnedFile | str | os.PathLike):
            self.pinned = document if isinstance(document, PinnedFile) else PinnedFile(document)
            self.size = self.pinned.size
        else:
            self._stream = document
            self.size = document.seek(0, os.SEEK_END)
        self.out = out
        self._writeback = writeback
        self.hashes = {name: new_hash(name) for name in dict.fromkeys(algorithms)}
        self._added: list[str] = []
        self._added_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancelled = False
        self._error: BaseException | None = None
        self._done = False
        # The two threads of start(): hashed chunks go to the writer through `_pieces` (None: no more),
        # and buffers read from a path come back through `_free` (None: stop waiting, the writer ended).
        self._writes_allowed = threading.Event()
        if not hold_writes:
            self._writes_allowed.set()
        self._pieces: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        self._buffers = 0
        self._writer: threading.Thread | None = None
        self._write_error: BaseException | None = None
        self._written = 0

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> HashingCopy:
        if self._stream is not None:
            raise SealBridgeError("INTERNAL", "a shared stream is copied on its own thread (run)")
        self._thread = threading.Thread(target=self._run_aside, name="hashing-copy", daemon=True)
        self._writer = threading.Thread(target=self._write_aside, name="copy-writer", daemon=True)
        gilhandoff.begin()  # each chunk's read, hashes and write take the GIL back: promptly, please
        try:
            self._writer.start()
            self._thread.start()
        except BaseException:
            self._cancelled = True
            self._writes_allowed.set()
            self._pieces.put(None)
            if self._writer.ident is not None:
                self._writer.join()
            gilhandoff.end()
            raise
        return self

    def release_writes(self) -> None:
        """Let the copy write into `out` (see hold_writes)."""
        self._writes_allowed.set()

    def run(self) -> dict[str, Hasher]:
        self._writes_allowed.set()
        self._run_catching()
        return self.result()

    def add(self, algorithms: Iterable[str]) -> HashingCopy:
        """Also compute these digests (see the class text); unknown names raise MECHANISM_UNSUPPORTED."""
        wanted = [name for name in dict.fromkeys(algorithms) if name not in self.hashes]
        for name in wanted:
            if name not in _ALGORITHMS:
                raise SealBridgeError("MECHANISM_UNSUPPORTED", f"digest {name!r}")
        with self._added_lock:
            self._added.extend(name for name in wanted if name not in self._added)
        return self

    def result(self) -> dict[str, Hasher]:
        """The hash states after the whole document (raises what the copy raised)."""
        if self._thread is not None:
            self._writes_allowed.set()
            self._thread.join()
        if self._error is None and self._done:
            self._take_added(self.size)  # asked for after the last chunk
        if self._error is not None:
            if isinstance(self._error, SealBridgeError):
                raise self._error
            if isinstance(self._error, OSError):
                raise SealBridgeError("BAD_REQUEST", f"cannot copy the document: {self._error.strerror}")
            raise self._error
        if not self._done:
            raise SealBridgeError("INTERNAL", "the document copy was cancelled")
        return self.hashes

    def cancel(self) -> None:
        """Stop the copy after the chunk in hand and wait for the worker (nothing is written after)."""
        self._cancelled = True
        if self._thread is not None:
            self._writes_allowed.set()  # a held writer wakes up, sees the cancel and writes nothing
            self._free.put(None)  # a hashing thread waiting for a buffer stops waiting
            self._thread.join()

    def _run_aside(self) -> None:
        """The hashing thread of start(): reads and hashes each chunk and hands it to the writing thread,
        which it waits for at the end."""
        assert self._writer is not None
        try:
            copied = 0
            for chunk in self._chunks(self._pooled_buffer):
                if self._stopping():
                    break
                self._take_added(copied)
                for h in self.hashes.values():
                    h.update(chunk)
                self._pieces.put(chunk)
                copied += len(chunk)
            if self._cancelled or self._write_error is not None:
                return
            if copied != self.size:
                raise SealBridgeError("DOC_CHANGED", "the document changed while it was being stamped")
        except BaseException as exc:  # handed to result() on the caller's thread
            self._error = exc
            self._cancelled = True  # the writer stops too: nothing more is written
        finally:
            self._pieces.put(None)
            self._writer.join()
            if self._error is None and self._write_error is not None:
                self._error = self._write_error
            if self._error is None and not self._cancelled and self._written == self.size:
                self._done = True
            gilhandoff.end()

    def _stopping(self) -> bool:
        return self._cancelled or self._write_error is not None

    def _pooled_buffer(self) -> bytearray | None:
        """The next buffer for start()'s hashing thread to read into: a new one while fewer than HELD_MAX
        bytes of them are in flight, else one the writer gave back once written; None: stop reading."""
        if self._stopping():
            return None
        if self._buffers < max(2, HELD_MAX // CHUNK):
            self._buffers += 1
            return bytearray(CHUNK)
        buffer = self._free.get()
        return None if self._cancelled else buffer

    def _write_aside(self) -> None:
        """The writing thread of start(): writes the hashed chunks in order, once writes are allowed."""
        self._writes_allowed.wait()
        sink = None
        try:
            if self._cancelled:
                return
            sink = _Sink(self.out, self._writeback)
            while (piece := self._pieces.get()) is not None:
                if self._cancelled:
                    return
                sink.write(piece)
                if self.view is None:
                    self._free.put(piece.obj)  # type: ignore[arg-type] # written: the hashing thread may read into it again
        except BaseException as exc:
            self._write_error = exc
        finally:
            self._free.put(None)  # the hashing thread must not wait for buffers that no longer come back
            if sink is not None:
                self._written = sink.written
                sink.close()

    def _run_catching(self) -> None:
        sink = _Sink(self.out, self._writeback)
        buffer = bytearray(CHUNK)
        try:
            for chunk in self._chunks(lambda: buffer):  # each chunk is written before the next is read
                if self._cancelled:
                    return
                self._take_added(sink.written)
                for h in self.hashes.values():
                    h.update(chunk)
                sink.write(chunk)
            if sink.written != self.size:
                raise SealBridgeError("DOC_CHANGED", "the document changed while it was being stamped")
            self._done = True
        except BaseException as exc:  # handed to result() on the caller's thread
            self._error = exc
        finally:
            sink.close()

    def _take_added(self, copied: int) -> None:
        """Start the digests add() asked for, over the first `copied` bytes (read again)."""
        with self._added_lock:
            added, self._added = self._added, []
        if not added:
            return
        states = {name: new_hash(name) for name in added if name not in self.hashes}
        for piece in self._prefix(copied):
            for h in states.values():
                h.update(piece)
        self.hashes.update(states)

    def _prefix(self, length: int) -> Iterator[Any]:
        if self.view is not None:
            yield self.view[:length]
            return
        if self.pinned is None:  # a caller's stream is copied by run(): nothing runs beside it to add
            raise SealBridgeError("INTERNAL", "digests cannot be added to the copy of a stream")
        buffer = bytearray(min(CHUNK, length))
        offset = 0
        while offset < length and (n := self.pinned.read_at(memoryview(buffer)[: length - offset], offset)):
            yield memoryview(buffer)[:n]
            offset += n

    def _chunks(self, next_buffer: Callable[[], bytearray | None]) -> Iterator[memoryview]:
        """The document's chunks in order, for run() and start() alike: views of its bytes, or of the buffers
        `next_buffer()` gives to read its path or stream into (None from it: stop reading)."""
        if self.view is not None:
            for start in range(0, self.size, CHUNK):
                yield self.view[start : start + CHUNK]
            return
        if self.pinned is not None:
            offset = 0
            while (buffer := next_buffer()) is not None and (n := self.pinned.read_at(buffer, offset)):
                yield memoryview(buffer)[:n]
                offset += n
            return
        assert self._stream is not None
        self._stream.seek(0)
        while (buffer := next_buffer()) is not None and (n := self._stream.readinto(buffer)):
            yield memoryview(buffer)[:n]


class _Sink:
    """Writes the copy into `out`, counting; with writeback, each WRITEBACK_EVERY bytes start their way to
    disk (_Writeback). Shared by run() and start()'s writing thread."""

    def __init__(self, out: Any, writeback: bool) -> None:
        self._out = out
        self._writeback = _Writeback.of(out) if writeback else None
        self._unsynced = 0
        self.written = 0

    def write(self, piece: Any) -> None:
        self._out.write(piece)
        self.written += len(piece)
        self._unsynced += len(piece)
        if self._writeback is not None and self._unsynced >= WRITEBACK_EVERY:
            self._out.flush()
            self._writeback.kick()
            self._unsynced = 0

    def close(self) -> None:
        if self._writeback is not None:
            self._writeback.close()


class _Writeback:
    """Writes a file's dirty pages to disk on its own thread (fdatasync, without the GIL) each time it is
    kicked, while the copy goes on. Only a head start for the output's final fsync, which still runs and
    reports any error; so an error here just ends the writeback."""

    def __init__(self, fd: int, sync: Any) -> None:
        self._fd, self._sync = fd, sync
        self._wanted = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="copy-writeback", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, out: Any) -> _Writeback | None:
        sync = getattr(os, "fdatasync", None)  # not on Windows or macOS: the final fsync does it all
        try:
            fd = out.fileno()
        except (AttributeError, OSError, ValueError):
            return None
        return cls(fd, sync) if sync is not None else None

    def kick(self) -> None:
        self._wanted.set()

    def close(self) -> None:
        """Wait for a sync under way (the file must stay open until then); start none after it."""
        self._closing = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing:
                return
            try:
                self._sync(self._fd)
            except OSError:
                return


class Discard:
    """An output that keeps nothing (hashing a document again without copying it)."""

    def write(self, data: Any) -> int:
        return len(data)
