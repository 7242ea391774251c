"""SM3 of documents (OpenSSL, >150 MB/s, through formats.dochash: hashlib first, `cryptography` after).

Documents are only ever hashed here or in formats.dochash; the pure-Python SM3 in gmssl is far too slow
(0.13 MB/s).
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from formats.dochash import Hasher, new_hash

#: Bytes read and hashed at a time when streaming a file: large, because each update of a hashing thread
#: ends by taking the GIL back, which may wait a switch interval behind a busy Python thread.
CHUNK = 4 << 20


class SM3Hasher:
    """Incremental SM3: `update()` as often as needed, `digest()` (or `hexdigest()`) as often as wanted."""

    __slots__ = ("_h",)
    digest_size = 32
    name = "sm3"

    def __init__(self, data: Any = b"") -> None:
        self._h: Hasher = new_hash("sm3", data)

    def update(self, data: Any) -> None:
        self._h.update(data)

    def copy(self) -> SM3Hasher:
        clone = SM3Hasher.__new__(SM3Hasher)
        clone._h = self._h.copy()
        return clone

    def digest(self) -> bytes:
        return self._h.digest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def sm3(data: Any) -> bytes:
    """SM3 of `data` (32 bytes), in one call."""
    return new_hash("sm3", data).digest()


def sm3_stream(f: BinaryIO) -> bytes:
    """SM3 of everything left in a binary file object, read in CHUNK pieces into one reused buffer."""
    h = new_hash("sm3")
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    readinto = getattr(f, "readinto", None)
    if readinto is None:  # a file object with read() only
        while chunk := f.read(CHUNK):
            h.update(chunk)
        return h.digest()
    while n := readinto(buffer):
        h.update(view[:n])
    return h.digest()


def sm3_file(path: str | os.PathLike[str]) -> bytes:
    """SM3 of a file's bytes, streamed."""
    with open(path, "rb", buffering=0) as f:
        return sm3_stream(f)
