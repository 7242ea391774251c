"""SM3 hashing through `cryptography` (OpenSSL, >150 MB/s).

Documents are only ever hashed here; the pure-Python SM3 in gmssl is far too slow (0.13 MB/s).
"""

from __future__ import annotations

import os
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes

CHUNK = 1 << 20  # 1 MiB: large enough to amortise call overhead, small enough to stream


class SM3Hasher:
    """Incremental SM3: `update()` as often as needed, then `digest()` once (or `hexdigest()`)."""

    digest_size = 32
    name = "sm3"

    def __init__(self, data: bytes = b"") -> None:
        self._ctx = hashes.Hash(hashes.SM3())
        if data:
            self._ctx.update(data)

    def update(self, data: bytes) -> None:
        self._ctx.update(data)

    def copy(self) -> SM3Hasher:
        clone = SM3Hasher.__new__(SM3Hasher)
        clone._ctx = self._ctx.copy()
        return clone

    def digest(self) -> bytes:
        # cryptography contexts are single-use; finalise a copy so digest() can be called again.
        return self._ctx.copy().finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()


def sm3(data: bytes) -> bytes:
    """SM3 of `data` (32 bytes)."""
    ctx = hashes.Hash(hashes.SM3())
    ctx.update(data)
    return ctx.finalize()


def sm3_stream(f: BinaryIO) -> bytes:
    """SM3 of everything left in a binary file object, read in 1 MiB chunks."""
    ctx = hashes.Hash(hashes.SM3())
    while chunk := f.read(CHUNK):
        ctx.update(chunk)
    return ctx.finalize()


def sm3_file(path: str | os.PathLike[str]) -> bytes:
    """SM3 of a file's bytes, streamed."""
    with open(path, "rb") as f:
        return sm3_stream(f)
