"""The stream pyHanko's reader parses a document to verify from, where a stream's payload is a view of the
document's bytes instead of a copy.

pyHanko reads every stream object it meets while it walks a revision's objects for the difference analysis,
payload included: for a 50 MB scan that is 50 MB of fresh memory, and on a virtual machine the page faults
that fill it cost more than the copying (13,000 faults for 50 MB, 30-40 ms of `sealbridge verify`). A view
costs neither, and the bytes it shows cannot change (a bytes object).

Only a payload is read in one piece that large (pyHanko reads everything else a few bytes at a time), so a
read of VIEW_FROM_READ_SIZE or more of what follows a dictionary with a /Length is a view. pyHanko keeps
it as the stream's encoded data, which the difference analysis compares (a view compares by content) and
otherwise only hands to a decoder. Not every decoder takes a view (ASCIIHexDecode and ASCII85Decode split
their input with bytes methods; asn1crypto, for DSS certificates, wants bytes): decoding therefore starts
from a bytes copy of the view (_install), made only for a stream whose decoded data is asked for, never
for the page images the analysis merely compares.

The analysis also compares payloads: an object a later revision wrote again unchanged (some editors save every
object again in each update) is recognised by comparing it with its earlier version. Two memoryviews compare
element by element in Python's C code (330 MB/s here, against 10 GB/s for two bytes objects), so for a
document rewritten that way a 50 MB scan signed ten times would take seconds. Each view's place in the
document is therefore recorded, and two payloads are compared as one bytes object's region against the
other (_same_payload: bytes.startswith, a memcmp).
"""

from __future__ import annotations

import functools
import io
import threading
import weakref
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.sign.diff_analysis import policies

#: Documents from this size on are parsed through _ViewingReader, and its reads from this size on are views.
VIEWS_FROM_DOCUMENT_SIZE = 4 << 20
VIEW_FROM_READ_SIZE = 64 << 10


class _ViewingReader(io.BytesIO):
    """The document, read as BytesIO reads it, except that a large read of a stream's payload is a
    memoryview of its bytes.

    pyHanko's tokenizer reads a byte or a few at a time (35,000 reads for the ten revisions of a 50 MB
    document), and a read() written in Python costs 0.29 us against BytesIO's 0.12. So read stays
    BytesIO's own, and the viewing read is this instance's `read` only while pyHanko reads what follows a
    dictionary that has a /Length, where a payload may be (_install, read_payload_as_view)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)  # shares `data`: BytesIO copies only on a write
        self._data = data
        self._made: list[int] = []  # the ids of the views made here, forgotten with this reader
        weakref.finalize(self, _forget, self._made)

    def read_viewing(self, size: int | None = -1, /) -> bytes:
        if size is None or size < VIEW_FROM_READ_SIZE:
            return super().read(size)
        at = self.tell()
        view = memoryview(self._data)[at : at + size]
        self.seek(at + len(view))
        _STARTS[id(view)] = (view, at)  # held there: its id stays its own while it is recorded
        self._made.append(id(view))
        return view  # type: ignore[return-value]  # bytes-like: see the module's docstring


#: id(view) -> (the view, where it starts in its document), for the views of the readers still alive.
_STARTS: dict[int, tuple[memoryview, int]] = {}


def _forget(made: list[int]) -> None:
    for key in made:
        _STARTS.pop(key, None)


def _start(payload: object) -> int | None:
    """Where `payload` starts in its document, if it is a view a live reader made."""
    if not isinstance(payload, memoryview):
        return None
    entry = _STARTS.get(id(payload))
    return entry[1] if entry is not None and entry[0] is payload else None


def _same_payload(a: Any, b: Any) -> bool:
    """a == b for two payloads (bytes or views), a view compared as a region of its document's bytes."""
    if len(a) != len(b):
        return False
    start = _start(a)
    if start is not None:
        return bool(a.obj.startswith(b, start))
    start = _start(b)
    if start is not None:
        return bool(b.obj.startswith(a, start))
    return bool(a == b)


def document_stream(data: bytes) -> io.BytesIO:
    """The stream pyHanko's reader parses `data` from: its bytes shared, not copied. Below
    VIEWS_FROM_DOCUMENT_SIZE a plain BytesIO: each read through _ViewingReader costs a call in Python, which a
    small document's few payloads do not repay."""
    if len(data) < VIEWS_FROM_DOCUMENT_SIZE or not _install():
        return io.BytesIO(data)
    return _ViewingReader(data)


_INSTALL = threading.Lock()
_installed: bool | None = None  # None: not tried yet
#: What _install() wraps in pyHanko (0.38): where a payload is read, decoded, and compared.
_HOOKS = ((generic, "_maybe_read_stream_payload"), (generic.StreamObject, "read_data"), (policies, "_is_id"))
#: Stands in for two equal payloads while pyHanko compares the rest of their streams.
_EQUAL = b""


def _install() -> bool:
    """Once per process, the first time a view can be made: pyHanko reads a stream's payload from a
    _ViewingReader through its read_viewing, StreamObject.read_data (behind `.data`) decodes a payload held
    as a view from a bytes copy of it (the view stays the stream's encoded data), and the difference
    analysis's comparison of two streams compares viewed payloads with _same_payload. Streams whose encoded
    data is bytes (everything outside a verification of a large document) go exactly as before.
    False where a pyHanko without those functions is installed: documents are then parsed from a copy."""
    global _installed
    with _INSTALL:
        if _installed is not None:
            return _installed
        if not all(callable(getattr(owner, name, None)) for owner, name in _HOOKS):
            _installed = False
            return False
        read_data = generic.StreamObject.read_data
        is_identical = policies._is_id
        read_payload = generic._maybe_read_stream_payload

        @functools.wraps(read_payload)
        def read_payload_as_view(stream: Any, data: Any, *rest: Any, **kwargs: Any) -> Any:
            if type(stream) is not _ViewingReader or "/Length" not in data or "read" in vars(stream):
                return read_payload(stream, data, *rest, **kwargs)  # no payload here, or already viewing
            stream.read = stream.read_viewing
            try:
                return read_payload(stream, data, *rest, **kwargs)
            finally:
                del stream.read

        @functools.wraps(read_data)
        def read_data_from_bytes(self: generic.StreamObject, *args: Any, **kwargs: Any) -> bytes:
            view = self._encoded_data
            if self._data is not None or not isinstance(view, memoryview):
                return read_data(self, *args, **kwargs)
            self._encoded_data = bytes(view)
            try:
                return read_data(self, *args, **kwargs)
            finally:
                self._encoded_data = view

        @functools.wraps(is_identical)
        def is_identical_fast(old: Any, new: Any) -> bool:
            if isinstance(old, generic.StreamObject) and isinstance(new, generic.StreamObject):
                a, b = old._encoded_data, new._encoded_data
                if (
                    (isinstance(a, memoryview) or isinstance(b, memoryview))
                    and a is not None
                    and b is not None
                ):
                    if not _same_payload(a, b):
                        return False
                    old._encoded_data = new._encoded_data = _EQUAL  # pyHanko compares the rest
                    try:
                        return bool(is_identical(old, new))
                    finally:
                        old._encoded_data, new._encoded_data = a, b
            return bool(is_identical(old, new))

        generic.StreamObject.read_data = read_data_from_bytes  # type: ignore[method-assign]
        generic._maybe_read_stream_payload = read_payload_as_view
        policies._is_id = is_identical_fast
        _installed = True
        return True
