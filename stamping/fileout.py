"""Atomic file writes: a temp file in the same directory, flushed to disk, then os.replace — a reader sees
the old file or the new one, never half of one, and a failure leaves no partial file.

It lives in stamping because "outputs atomic, originals never changed in place" is stamping's rule, and
stamping is the one package that both the agent (CLI outputs, soft tokens, platform cache) and the central
platform (its keys, CLI outputs) may import: central depends on stamping and formats only, and formats does
no I/O. This is local file I/O only — stamping still does no network, hardware or UI.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from formats.errors import SealBridgeError


def atomic_write(path: str | Path, data: bytes, mode: int = 0o600, error_code: str = "BAD_REQUEST") -> None:
    """Replace `path` with `data` atomically; the file gets `mode` (private by default).

    An OSError becomes SealBridgeError(error_code) naming the file; the temp file never stays behind.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SealBridgeError(error_code, f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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
