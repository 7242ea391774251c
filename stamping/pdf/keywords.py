"""Find a keyword on the pages with pypdfium2 (text search with character boxes in user space).

pdfium reports text rectangles in PDF user space (MediaBox coordinates, before /Rotate), which is the
space widget /Rects live in, so no conversion is needed here; geometry.py turns them into display mm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from formats.errors import SealBridgeError
from stamping.pdf.geometry import UserRect
from stamping.signalswap import handlers_swapped


@dataclass(frozen=True)
class Hit:
    page_index: int  # 0-based
    rect: UserRect  # union of the hit's rectangles


def find_keyword(data: Any, text: str) -> list[Hit]:
    """Every occurrence of `text` in reading order (page by page). `data` is what pypdfium2 opens: bytes
    (used in place, not copied), a path, or a readable seekable binary stream."""
    import pypdfium2 as pdfium

    if not hasattr(data, "readinto"):
        return _search(pdfium, data, text, lambda: None)
    # pdfium reads a stream through Python callbacks: neither a read's exception nor a signal handler's
    # may be raised inside them (C would print and drop it, and pdfium would go on without the bytes).
    guard = _ReadGuard(data)
    with _signals_held() as deliver:

        def checkpoint() -> None:
            deliver()  # Ctrl-C or `kill` meanwhile: now
            if guard.failure is not None:  # a read that failed ends the search: no page goes unsearched
                raise guard.failure

        return _search(pdfium, guard, text, checkpoint)


def _search(pdfium: Any, source: Any, text: str, checkpoint: Callable[[], None]) -> list[Hit]:
    """The search itself; checkpoint() between pdfium's calls raises what happened during them."""
    try:
        doc = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        checkpoint()
        raise SealBridgeError("DOC_MALFORMED", f"pdfium cannot open the PDF: {exc}") from None
    hits: list[Hit] = []
    try:
        for page_index in range(len(doc)):
            checkpoint()
            try:
                page = doc[page_index]
                textpage = page.get_textpage()
            except pdfium.PdfiumError as exc:
                checkpoint()
                raise SealBridgeError(
                    "DOC_MALFORMED", f"pdfium cannot read page {page_index + 1}: {exc}"
                ) from None
            try:
                searcher = textpage.search(text, match_case=True)
                try:
                    while (found := searcher.get_next()) is not None:
                        start, count = found
                        rects = [textpage.get_rect(i) for i in range(textpage.count_rects(start, count))]
                        if rects:
                            hits.append(Hit(page_index, _union(rects)))
                finally:
                    searcher.close()
            finally:
                textpage.close()
                page.close()
        checkpoint()
    finally:
        doc.close()
    return hits


@contextmanager
def _signals_held() -> Iterator[Callable[[], None]]:
    """While pdfium runs Python callbacks: SIGINT, SIGTERM and SIGHUP handlers (Ctrl-C's KeyboardInterrupt,
    agent.cli.common.ended_by_signals, a caller's own) only note the signal; deliver() (called between
    pdfium's calls) and the end of the block run the real handlers, in the order the signals came, outside
    any callback. Main thread only: Python runs signal handlers nowhere else."""
    caught: list[tuple[Any, int]] = []

    def hold(_signum: int, current: Any) -> Any:
        if not callable(current):
            return None  # the default action or ignored: nothing runs in Python, nothing to hold
        return lambda num, _frame, handler=current: caught.append((handler, num))

    def deliver() -> None:
        while caught:
            handler, num = caught.pop(0)
            handler(num, None)  # raises (or not) as it would have when the signal came

    try:
        with handlers_swapped(("SIGINT", "SIGTERM", "SIGHUP"), hold):
            yield deliver
    except BaseException:
        deliver()  # an interrupt during a failed search wins: the user asked to stop
        raise
    deliver()


class _ReadGuard:
    """The stream pdfium reads through: pypdfium2 calls it from C, where whatever it raises is printed and
    dropped (pdfium sees only a failed read, and may go on without a page). Here the first exception
    (Ctrl-C, DOC_CHANGED from a file truncated meanwhile, an I/O error) is kept, every later read fails at
    once, and find_keyword raises it as soon as pdfium returns (its checkpoint)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.failure: BaseException | None = None

    def _guarded(self, call: Any, *args: Any) -> Any:
        if self.failure is not None:
            return 0
        try:
            return call(*args)
        except BaseException as exc:  # noqa: BLE001 - kept, raised once pdfium returns (checkpoint)
            self.failure = exc
            return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._guarded(self._stream.seek, offset, whence))

    def tell(self) -> int:
        return int(self._guarded(self._stream.tell))

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self._stream.read, size) or b""

    def readinto(self, buffer: Any) -> int:
        return int(self._guarded(self._stream.readinto, buffer))


def _union(rects: list[tuple[float, float, float, float]]) -> UserRect:
    # pdfium gives (left, bottom, right, top)
    return UserRect(
        min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects)
    )
