"""The stream pyHanko's reader parses a document to verify from, where a stream's payload is a view of the
document's bytes instead of a copy.

pyHanko reads every stream object it meets while it walks a revision's objects for the difference analysis,
payload included: for a 50 MB scan that is 50 MB of fresh memory, and on a virtual machine the page faults
that fill it cost more than the copying (13,000 faults for 50 MB, 30-40 ms of `sealbridge verify`). A view
costs neither, and the bytes it shows cannot change (a bytes object).

Only a payload is read in one piece that large (pyHanko reads everything else a few bytes at a time), so a
read of VIEW_FROM_READ_SIZE or more is a view. pyHanko keeps it as the stream's encoded data, which the
difference analysis compares (a view compares by content) and otherwise only hands to a decoder. Not every
decoder takes a view (ASCIIHexDecode and ASCII85Decode split their input with bytes methods; asn1crypto,
for DSS certificates, wants bytes): decoding therefore starts from a bytes copy of the view
(_decode_from_bytes), made only for a stream whose decoded data is asked for, never for the page images the
analysis merely compares.
"""

from __future__ import annotations

import functools
import io
import threading
from typing import Any

from pyhanko.pdf_utils import generic

#: Documents from this size on are parsed through _ViewingReader, and its reads from this size on are views.
VIEWS_FROM_DOCUMENT_SIZE = 4 << 20
VIEW_FROM_READ_SIZE = 64 << 10


class _ViewingReader(io.BytesIO):
    """The document, read as BytesIO reads it, except that a large read is a memoryview of its bytes."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)  # shares `data`: BytesIO copies only on a write
        self._data = data

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < VIEW_FROM_READ_SIZE:
            return super().read(size)
        at = self.tell()
        view = memoryview(self._data)[at : at + size]
        self.seek(at + len(view))
        return view  # type: ignore[return-value]  # bytes-like: see the module's docstring


def document_stream(data: bytes) -> io.BytesIO:
    """The stream pyHanko's reader parses `data` from: its bytes shared, not copied. Below
    VIEWS_FROM_DOCUMENT_SIZE a plain BytesIO: each read through _ViewingReader costs a call in Python, which a
    small document's few payloads do not repay."""
    if len(data) < VIEWS_FROM_DOCUMENT_SIZE:
        return io.BytesIO(data)
    _decode_from_bytes()
    return _ViewingReader(data)


_INSTALL = threading.Lock()
_installed = False


def _decode_from_bytes() -> None:
    """Make StreamObject.read_data (behind `.data`) decode a payload held as a view from a bytes copy of it;
    the view stays the stream's encoded data. Installed once per process, the first time a view can be made;
    a stream whose encoded data is bytes (everything outside a verification of a large document) is decoded
    exactly as before."""
    global _installed
    with _INSTALL:
        if _installed:
            return
        original = generic.StreamObject.read_data

        @functools.wraps(original)
        def read_data(self: generic.StreamObject, *args: Any, **kwargs: Any) -> bytes:
            view = self._encoded_data
            if self._data is not None or not isinstance(view, memoryview):
                return original(self, *args, **kwargs)
            self._encoded_data = bytes(view)
            try:
                return original(self, *args, **kwargs)
            finally:
                self._encoded_data = view

        generic.StreamObject.read_data = read_data  # type: ignore[method-assign]
        _installed = True
