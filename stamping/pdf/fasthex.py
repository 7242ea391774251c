"""A faster reader for PDF hex strings, installed into pyHanko's parser.

pyHanko reads `<…>` one byte per call; a signature's /Contents is a hex string of several KiB (mostly zero
padding), so reading it cost more than verifying the rest of a one-page document. This reader takes the
whole string at once when it holds only hex digits and white space — every /Contents we and other signers
write — and hands everything else (comments inside, stray characters, a missing `>`) to pyHanko's own
reader, so errors and odd inputs behave exactly as before.
"""

from __future__ import annotations

import binascii
import os
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_CHUNK = 1 << 16
#: pyHanko's own reader (kept before install() replaces it).
pyhanko_reader = generic.read_hex_string_from_stream


def read_hex_string(stream: Any) -> Any:
    """Same contract as pyhanko.pdf_utils.generic.read_hex_string_from_stream (stream at the `<`)."""
    start = stream.tell()
    stream.read(1)  # the "<"
    parts = []
    while True:
        chunk = stream.read(_CHUNK)
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            stream.seek(end + 1 - len(chunk), os.SEEK_CUR)  # just after the ">"
            break
        if not chunk:
            stream.seek(start)
            return pyhanko_reader(stream)
        parts.append(chunk)
    digits = b"".join(parts).translate(None, PDF_WHITESPACE)
    if digits.translate(None, generic.HEX_DIGITS):  # a comment or another character: pyHanko's way
        stream.seek(start)
        return pyhanko_reader(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def install() -> None:
    """Idempotent; read_object looks the function up in its module at each call."""
    generic.read_hex_string_from_stream = read_hex_string
