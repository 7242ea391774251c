"""pdfium reads a stream through Python callbacks, where an exception would be printed and dropped: what a
read raises (Ctrl-C, DOC_CHANGED, an I/O error) ends the keyword search with that same exception, and no
page is left unsearched in silence."""

from __future__ import annotations

import io

import pytest

from formats.errors import SealBridgeError
from stamping.pdf.keywords import find_keyword
from tests.support.pdf_maker import PageSpec, make_pdf

PAGES = 30


class FailingAfter(io.RawIOBase):
    """A stream over bytes whose `n`-th read raises `exc`."""

    def __init__(self, data: bytes, n: int, exc: BaseException) -> None:
        self._inner = io.BytesIO(data)
        self._left = n
        self._exc = exc

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        self._left -= 1
        if self._left == 0:
            raise self._exc
        return self._inner.readinto(b)


@pytest.fixture(scope="module")
def document() -> bytes:
    return make_pdf([PageSpec(lines=[(72, 700, f"第{i + 1}页 盖章处")]) for i in range(PAGES)])


def test_every_page_is_found_through_a_stream(document) -> None:
    assert [hit.page_index for hit in find_keyword(io.BytesIO(document), "盖章处")] == list(range(PAGES))


@pytest.mark.parametrize(
    "exc", [KeyboardInterrupt(), SealBridgeError("DOC_CHANGED", "truncated"), OSError(5, "I/O error")]
)
def test_a_read_that_raises_ends_the_search_with_its_exception(document, exc, capfd) -> None:
    reads = 0

    class Counting(FailingAfter):
        def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
            nonlocal reads
            reads += 1
            return super().readinto(b)

    find_keyword(Counting(document, 0, exc), "盖章处")  # n=0 never fails: count the reads a search makes
    assert reads > 3
    for n in (1, 2, reads // 2, reads):  # opening, the first page, midway, the last read
        with pytest.raises(type(exc)) as raised:
            find_keyword(FailingAfter(document, n, exc), "盖章处")
        assert raised.value is exc
    assert "Exception ignored" not in capfd.readouterr().err
