"""Reading the small files a command is given by name (certificates, seals, keys, PIN files, configuration):
to a bound, so that a device or pipe that never ends (`/dev/zero`) is refused instead of read until memory
runs out. Pipes such as `<(...)` are read like files. Here, next to stamping.fileout, because the agent's
commands and the central platform's both read such files, and stamping is what both may import."""

from __future__ import annotations

import os

from formats.errors import SealBridgeError
from formats.limits import MiB

#: The most such a file is read to: far beyond any real certificate, seal, key or configuration.
SMALL_FILE_BYTES = 16 * MiB


def read_small_file(path: str | os.PathLike[str], most: int = SMALL_FILE_BYTES) -> bytes:
    """The bytes of `path`, read to `most` bytes at most: a file holding more is BAD_REQUEST, naming it.
    Raises OSError as open() does, for the caller to name in its own words."""
    with open(path, "rb") as f:
        data = f.read(most + 1)
    if len(data) > most:
        raise SealBridgeError(
            "BAD_REQUEST", f"{path} holds more than {most} bytes, more than such a file ever does"
        )
    return data
