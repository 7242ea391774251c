"""A document file opened once: every reader sees the file as it was opened, a replaced path changes
nothing, a write into the file is caught, and what is not a regular file is refused without waiting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from stamping.pinnedfile import PinnedFile

DATA = bytes(range(256)) * 4096  # 1 MiB, every offset distinguishable enough


def _file(tmp_path: Path, data: bytes = DATA) -> Path:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    # An old modification time: a write during the test always moves it, whatever the clock's resolution.
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return path


def test_readers_have_positions_of_their_own(tmp_path: Path) -> None:
    with PinnedFile(_file(tmp_path)) as pinned:
        assert pinned.size == len(DATA)
        first, second = pinned.reader(), pinned.reader()
        assert first.read(1000) == DATA[:1000]
        second.seek(5000)
        assert second.read(10) == DATA[5000:5010]
        assert first.read(10) == DATA[1000:1010]  # untouched by the other reader
        assert first.read() == DATA[1010:]
        buffer = bytearray(64)
        assert pinned.read_at(buffer, len(DATA) - 10) == 10 and bytes(buffer[:10]) == DATA[-10:]
        assert pinned.read_at(buffer, len(DATA)) == 0
        pinned.check_unchanged()


@pytest.mark.parametrize("positioned", [True, False])
def test_a_replaced_path_changes_nothing(tmp_path: Path, monkeypatch, positioned: bool) -> None:
    if not positioned:  # as on Windows: no positioned reads, seek and read under a lock instead
        monkeypatch.delattr(os, "preadv", raising=False)
        monkeypatch.delattr(os, "pread", raising=False)
    path = _file(tmp_path)
    with PinnedFile(path) as pinned:
        other = tmp_path / "other.pdf"
        other.write_bytes(b"%PDF-1.7 another document" * 100)
        os.replace(other, path)
        assert pinned.reader().read() == DATA
        pinned.check_unchanged()  # the open file is the one stamped, whole


@pytest.mark.parametrize("change", ["overwritten", "appended", "truncated"])
def test_a_write_into_the_file_is_caught(tmp_path: Path, change: str) -> None:
    path = _file(tmp_path)
    with PinnedFile(path) as pinned:
        with open(path, "r+b") as f:
            if change == "overwritten":
                f.seek(100)
                f.write(b"X")
            elif change == "appended":
                f.seek(0, os.SEEK_END)
                f.write(b"more")
            else:
                f.truncate(1000)
        if change == "appended":
            assert pinned.reader().read() == DATA  # never past the size it was opened with
        with pytest.raises(SealBridgeError) as err:
            pinned.check_unchanged()
    assert err.value.code == "DOC_CHANGED"
    assert "盖章期间文档被修改" in err.value.message_zh


def test_what_cannot_be_opened_is_refused_by_its_code(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    cases = {tmp_path / "missing.pdf": "FILE_NOT_FOUND", tmp_path: "BAD_REQUEST", fifo: "BAD_REQUEST"}
    for path, code in cases.items():
        with pytest.raises(SealBridgeError) as err:
            PinnedFile(path)  # a FIFO with no writer: refused at once, not waited on
        assert err.value.code == code, path


def test_closed_with_its_block(tmp_path: Path) -> None:
    with PinnedFile(_file(tmp_path)) as pinned:
        reader = pinned.reader()
    with pytest.raises(ValueError):
        reader.read(10)


def test_a_read_that_meets_a_truncated_file_says_it_changed(tmp_path: Path) -> None:
    path = _file(tmp_path)
    with PinnedFile(path) as pinned:
        os.truncate(path, 1000)
        with pytest.raises(SealBridgeError) as err:
            pinned.reader().read()
    assert err.value.code == "DOC_CHANGED"
