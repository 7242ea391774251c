"""pdfium reads a stream through Python callbacks, where an exception would be printed and dropped: what a
read raises (Ctrl-C, DOC_CHANGED, an I/O error) ends the keyword search with that same exception, and no
page is left unsearched in silence."""

from __future__ import annotations

import io
import os
import signal

import pytest

from agent.cli.common import Terminated, _raise_terminated, ended_by_signals
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


class SignalAt(FailingAfter):
    """A stream over bytes that sends this process `signum` during its `n`-th read: its Python handler then
    runs inside pdfium's callback."""

    def __init__(self, data: bytes, n: int, signum: int) -> None:
        super().__init__(data, 0, KeyboardInterrupt())
        self._at = n
        self._signum = signum
        self.handlers_seen: set[object] = set()

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        self._at -= 1
        # What would run if a signal came now: while pdfium calls back, nothing that raises (a handler
        # raising here, or anywhere in pypdfium2's wrapper around this call, is dropped by C).
        self.handlers_seen.add(signal.getsignal(self._signum))
        if self._at == 0:
            os.kill(os.getpid(), self._signum)
        return super().readinto(b)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_search_ends_it(termination_signals_at_default, document, signum, capfd) -> None:
    """Ctrl-C (KeyboardInterrupt) or `kill` under ended_by_signals (Terminated) raised inside the callback
    would be dropped by C and the search would go on: it ends the search instead, once pdfium returns."""
    expected = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    for n in (1, 2, 20, 60):
        stream = SignalAt(document, n, signum)
        with pytest.raises(expected), ended_by_signals():
            find_keyword(stream, "盖章处")
        assert not stream.handlers_seen & {signal.default_int_handler, _raise_terminated}
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert "Exception ignored" not in capfd.readouterr().err
