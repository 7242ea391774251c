"""stamping.fileout.atomic_write: the one atomic writer of the agent and the platform (tokens, keys, outputs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from stamping.fileout import atomic_write


def test_replaces_whole_file_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old content that is longer")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    atomic_write(target, b"public", 0o644)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temp file left


def test_failure_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.bin"
    target.write_bytes(b"original")

    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin"]


def test_unwritable_place_is_a_stable_error(tmp_path: Path) -> None:
    with pytest.raises(SealBridgeError) as exc:
        atomic_write(tmp_path / "no-such-dir" / "x.bin", b"x", error_code="TOKEN_ERROR")
    assert exc.value.code == "TOKEN_ERROR" and "x.bin" in exc.value.detail
    target = tmp_path / "a-directory"
    target.mkdir()
    with pytest.raises(SealBridgeError) as exc:
        atomic_write(target, b"x")  # os.replace of a file onto a directory fails
    assert exc.value.code == "BAD_REQUEST"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_device_or_a_pipe_is_never_replaced(tmp_path: Path) -> None:
    """`-o /dev/null` (or a link to it, or a named pipe) is refused by its code: the rename would replace the
    node with a file, for root even the system's /dev/null. A free name or a regular file is written."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "null-link"
    link.symlink_to(os.devnull)
    for target in (pipe, link):
        with pytest.raises(SealBridgeError) as err:
            atomic_write(target, b"out")
        assert err.value.code == "BAD_REQUEST" and "not a regular file" in (err.value.detail or "")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and os.readlink(link) == os.devnull
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null-link", "pipe"]  # no temp file left
