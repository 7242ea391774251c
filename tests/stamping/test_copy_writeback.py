"""The document copy with writeback (stamping/copyhash.py): while the copy goes on, the bytes already
copied are synced to disk on a thread of their own, so the output's final fsync has little left. The copy
itself must not change: the same bytes and digests, the writeback thread gone when the copy is done, and
an output that is no file (or a platform without fdatasync) simply copied without it."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

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
    assert states["sm3"].finalize() == _sm3(data)
    assert states["sha256"].finalize() == hashlib.sha256(data).digest()


def test_without_a_file_or_without_fdatasync_the_copy_is_the_same(
    document: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = document
    out = io.BytesIO()
    states = HashingCopy(path, out, ["sm3"], writeback=True).start().result()
    assert out.getvalue() == data and states["sm3"].finalize() == _sm3(data)

    monkeypatch.delattr(os, "fdatasync")  # as on Windows and macOS
    with open(tmp_path / "out.pdf", "w+b") as f:
        states = HashingCopy(path, f, ["sm3"], writeback=True).run()
    assert (tmp_path / "out.pdf").read_bytes() == data and states["sm3"].finalize() == _sm3(data)
    assert _writeback_threads() == []


def test_a_cancelled_copy_with_writeback_leaves_no_thread(
    document: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, _ = document
    with open(tmp_path / "out.pdf", "w+b") as out:
        copy = HashingCopy(path, out, ["sm3"], writeback=True).start()
        copy.cancel()
    assert _writeback_threads() == []
