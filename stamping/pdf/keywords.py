"""Find a keyword on the pages with pypdfium2 (text search with character boxes in user space).

pdfium reports text rectangles in PDF user space (MediaBox coordinates, before /Rotate), which is the
space widget /Rects live in, so no conversion is needed here; geometry.py turns them into display mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from formats.errors import SealBridgeError
from stamping.pdf.geometry import UserRect


@dataclass(frozen=True)
class Hit:
    page_index: int  # 0-based
    rect: UserRect  # union of the hit's rectangles


def find_keyword(data: Any, text: str) -> list[Hit]:
    """Every occurrence of `text` in reading order (page by page). `data` is what pypdfium2 opens: bytes
    (used in place, not copied), a path, or a readable seekable binary stream."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise SealBridgeError("DOC_MALFORMED", f"pdfium cannot open the PDF: {exc}") from None
    hits: list[Hit] = []
    try:
        for page_index in range(len(doc)):
            page = doc[page_index]
            textpage = page.get_textpage()
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
    finally:
        doc.close()
    return hits


def _union(rects: list[tuple[float, float, float, float]]) -> UserRect:
    # pdfium gives (left, bottom, right, top)
    return UserRect(
        min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects)
    )
