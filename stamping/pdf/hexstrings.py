"""A fast path for pyHanko's hex string parser, which reads one byte per Python call.

A signature's /Contents is a hex string of 16-64 KB; pyHanko's `read_hex_string_from_stream` reads it one
character at a time through a generator (~2 µs a character), and a verification reads each signature
dictionary at least twice (the signature itself, then the difference analysis of every later revision):
with ten seals that was a third of the verification. The fast path reads ahead, and when the string is
plain hex digits up to its `>` (what every signer writes) decodes it at once; anything else (whitespace,
comments, a bad character, a missing `>`) goes back to where it started and through pyHanko's own parser,
so every result and every error is pyHanko's.
"""

from __future__ import annotations

import binascii
import re
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic

_READ_AHEAD = 64 * 1024
#: No /Contents is near this; a longer string is left to pyHanko (bounded read-ahead, no large join).
_MAX_FAST = 16 * 1024 * 1024
_HEX_RUN = re.compile(rb"[0-9A-Fa-f]*")
_CLOSE = ord(">")

_original = generic.read_hex_string_from_stream


def read_hex_string(stream: BinaryIO) -> Any:
    """Drop-in for generic.read_hex_string_from_stream: the stream is at the opening `<`."""
    start = stream.tell()
    buf = bytearray()
    scanned = 1  # past the `<`
    while True:
        chunk = stream.read(_READ_AHEAD)
        buf += chunk
        end = _HEX_RUN.match(buf, scanned).end()  # type: ignore[union-attr]  # `*` always matches
        if end < len(buf):
            if buf[end] != _CLOSE:
                break  # whitespace, a comment or a bad character: pyHanko's parser decides
            stream.seek(start + end + 1)
            digits = buf[1:end] if (end - 1) % 2 == 0 else buf[1:end] + b"0"
            return generic.pdf_string(binascii.unhexlify(digits))
        if not chunk or len(buf) > _MAX_FAST:
            break  # end of stream before `>`, or absurdly long: pyHanko's parser raises or copes
        scanned = end
    stream.seek(start)
    return _original(stream)


def install() -> None:
    """Idempotent; pyHanko's read_object looks the function up in its module at each call."""
    generic.read_hex_string_from_stream = read_hex_string
