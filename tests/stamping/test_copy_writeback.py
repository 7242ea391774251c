"""The document copy (stamping/copyhash.py) as the CLI runs it.

Writeback: while the copy goes on, the bytes already copied are synced to disk on a thread of their own,
so the output's final fsync has little left. The copy itself must not change: the same bytes and digests,
the writeback thread gone when the copy is done, and an output that is no file (or a platform without
fdatasync) simply copied without it.
Digests added once the copy started (the CLI starts it before the token tells the key's algorithm) cover
the whole document, whenever they are added."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from stamping import copyhash
from stamping.copyhash import HashingCopy


def _sm3(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@pytest.fixture
def document(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(3 * copyhash.CHUNK + 12345)  # four chunks, the last one short
    path = tmp_path / "in.pdf"
    path.write_bytes(data)
    return path, data


def _writeback_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "copy-writeback"]


def test_a_copy_with_writeback_syncs_as_it_goes_and_copies_the_same(
    document: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = document
    monkeypatch.setattr(copyhash, "WRITEBACK_EVERY", copyhash.CHUNK)  # a sync after every chunk
    synced: list[int] = []
    real_fdatasync = os.fdatasync

    def counting_fdatasync(fd: int) -> None:
        synced.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)
    with open(tmp_path / "out.pdf", "w+b") as out:
        states = HashingCopy(path, out, ["sm3", "sha256"], writeback=True).start().result()
        fd = out.fileno()
    assert synced and set(synced) == {fd}
    assert _writeback_threads() == []
    assert (tmp_path / "out.pdf").read_bytes() == data
    assert states["sm3"].digest() == _sm3(data)
    assert states["sha256"].digest() == hashlib.sha256(data).digest()


def test_without_a_file_or_without_fdatasync_the_copy_is_the_same(
    document: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = document
    out = io.BytesIO()
    states = HashingCopy(path, out, ["sm3"], writeback=True).start().result()
    assert out.getvalue() == data and states["sm3"].digest() == _sm3(data)

    monkeypatch.delattr(os, "fdatasync")  # as on Windows and macOS
    with open(tmp_path / "out.pdf", "w+b") as f:
        states = HashingCopy(path, f, ["sm3"], writeback=True).run()
    assert (tmp_path / "out.pdf").read_bytes() == data and states["sm3"].digest() == _sm3(data)
    assert _writeback_threads() == []


def test_a_cancelled_copy_with_writeback_leaves_no_thread(
    document: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, _ = document
    with open(tmp_path / "out.pdf", "w+b") as out:
        copy = HashingCopy(path, out, ["sm3"], writeback=True).start()
        copy.cancel()
    assert _writeback_threads() == []


class _PausingFile:
    """A real output file whose first write waits until the test lets it go: digests are then added while
    the copy is known to be past its first chunk."""

    def __init__(self, f) -> None:  # type: ignore[no-untyped-def]
        self._f = f
        self.first_written = threading.Event()
        self.go_on = threading.Event()

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        n = self._f.write(data)
        if not self.first_written.is_set():
            self.first_written.set()
            self.go_on.wait()
        return n


def test_digests_added_during_the_copy_cover_the_whole_document(
    document: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = document
    with open(tmp_path / "out.pdf", "w+b") as f:
        out = _PausingFile(f)
        copy = HashingCopy(path, out, ["sm3"]).start()
        assert out.first_written.wait(timeout=60)
        copy.add(["sha256", "sm3"])  # SM3 is there already
        out.go_on.set()
        states = copy.result()
    assert sorted(states) == ["sha256", "sm3"]
    assert states["sha256"].digest() == hashlib.sha256(data).digest()
    assert states["sm3"].digest() == _sm3(data)
    assert (tmp_path / "out.pdf").read_bytes() == data


def test_digests_added_after_the_copy_or_before_it_starts(document: tuple[Path, bytes]) -> None:
    path, data = document
    copy = HashingCopy(path, io.BytesIO(), ["sm3"]).start()
    copy.result()
    states = copy.add(["sha384"]).result()  # after the last chunk: hashed from the document once more
    assert states["sha384"].digest() == hashlib.sha384(data).digest()
    states = HashingCopy(data, io.BytesIO(), ["sm3"]).add(["sha512"]).run()  # bytes, before the copy
    assert states["sha512"].digest() == hashlib.sha512(data).digest()
    with pytest.raises(SealBridgeError) as err:
        HashingCopy(path, io.BytesIO(), ["sm3"]).add(["md5"])
    assert err.value.code == "MECHANISM_UNSUPPORTED"


class _Recording(io.BytesIO):
    """An output that notes which thread wrote each chunk."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        self.writers.add(threading.current_thread().name)
        return super().write(data)


@pytest.mark.parametrize("kind", ["path", "bytes"])
def test_held_writes_wait_for_release_while_the_hashing_goes_on(
    document: tuple[Path, bytes], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hold_writes: the whole document is hashed (the hashing thread reads ahead into at most HELD_MAX
    bytes of buffers, here every chunk) with nothing in the output; release_writes() writes it in order,
    on the copy's writing thread, from the same bytes."""
    path, data = document
    monkeypatch.setattr(copyhash, "HELD_MAX", 4 * copyhash.CHUNK)
    hashed = threading.Event()

    class Sm3Watch:
        """The SM3 state of the copy, telling when the last byte has gone through it."""

        def __init__(self) -> None:
            self.state = copyhash.new_hash("sm3")
            self.fed = 0

        def update(self, piece) -> None:  # type: ignore[no-untyped-def]
            self.state.update(piece)
            self.fed += len(piece)
            if self.fed == len(data):
                hashed.set()

    out = _Recording()
    copy = HashingCopy(path if kind == "path" else data, out, [], hold_writes=True)
    watch = Sm3Watch()
    copy.hashes["sm3"] = watch  # type: ignore[assignment]
    copy.start()
    assert hashed.wait(timeout=60)
    assert out.getvalue() == b""  # all hashed, nothing written
    copy.release_writes()
    states = copy.result()
    assert out.getvalue() == data and out.writers == {"copy-writer"}
    assert states["sm3"] is watch and watch.state.digest() == _sm3(data)


@pytest.mark.parametrize("kind", ["path", "bytes"])
def test_a_copy_cancelled_before_its_writes_were_released_writes_nothing(
    document: tuple[Path, bytes], kind: str
) -> None:
    path, data = document
    out = _Recording()
    copy = HashingCopy(path if kind == "path" else data, out, ["sm3"], hold_writes=True).start()
    copy.cancel()
    assert out.getvalue() == b""
    assert [t for t in threading.enumerate() if t.name in ("hashing-copy", "copy-writer")] == []
    with pytest.raises(SealBridgeError) as err:
        copy.result()
    assert err.value.code == "INTERNAL"


def test_a_write_that_fails_ends_the_copy_with_its_error(document: tuple[Path, bytes]) -> None:
    path, _ = document

    class DiskFull:
        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            raise OSError(28, "No space left on device")

    with pytest.raises(SealBridgeError) as err:
        HashingCopy(path, DiskFull(), ["sm3"]).start().result()
    assert err.value.code == "BAD_REQUEST" and "No space left" in err.value.detail
    assert [t for t in threading.enumerate() if t.name in ("hashing-copy", "copy-writer")] == []
