"""Atomic file writes: a temp file in the same directory, flushed to disk, then os.replace — a reader sees
the old file or the new one, never half of one, and a failure leaves no partial file.

It lives in stamping because "outputs atomic, originals never changed in place" is stamping's rule, and
stamping is the one package that both the agent (CLI outputs, soft tokens, platform cache) and the central
platform (its keys, CLI outputs) may import: central depends on stamping and formats only, and formats does
no I/O. This is local file I/O only — stamping still does no network, hardware or UI.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from formats.errors import SealBridgeError


def atomic_write(path: str | Path, data: bytes, mode: int = 0o600, error_code: str = "BAD_REQUEST") -> None:
    """Replace `path` with `data` atomically; the file gets `mode` (private by default).

    An OSError becomes SealBridgeError(error_code) naming the file; the temp file never stays behind.
    """
    with atomic_output(path, mode, error_code) as f:
        f.write(data)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: not ours to judge
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files of earlier writes to `path` whose writer is gone (killed mid-write: SIGKILL, power
    loss). The temp name carries the writer's pid; temps of live processes, this one included, are kept."""
    removed = []
    pattern = glob.escape(f".{path.name}.") + "*.tmp"
    for tmp in path.parent.glob(pattern):
        match = re.fullmatch(rf"\.{re.escape(path.name)}\.(\d+)-[^/]+\.tmp", tmp.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def _refuse_what_is_no_file(path: Path, error_code: str) -> None:
    """An output replaces a regular file or takes a free name, nothing else: the rename would put a file in
    the place of a device (`-o /dev/null` run as root would leave the system without its /dev/null until
    the next boot), a named pipe or a socket. Checked through a link, which the rename replaces."""
    try:
        found = path.stat()
    except OSError:
        return  # nothing there yet (or unreachable: the write says why)
    if not stat.S_ISREG(found.st_mode) and not stat.S_ISDIR(found.st_mode):  # a folder: the rename says so
        raise SealBridgeError(
            error_code, f"cannot write {path}: it is not a regular file (a device, pipe or socket)"
        )


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: int = 0o600, error_code: str = "BAD_REQUEST") -> Iterator[BinaryIO]:
    """atomic_write for writers that stream (a stamper writing a large document): yields the temp file,
    opened "w+b" in the target's folder (readable and seekable, so pyHanko signs in place without a scratch
    copy); on a normal exit it is flushed, synced and renamed over `path`, on an exception deleted."""
    path = Path(path)
    _refuse_what_is_no_file(path, error_code)
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SealBridgeError(error_code, f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise SealBridgeError(error_code, f"cannot write {path}: {exc.strerror}") from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
