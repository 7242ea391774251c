"""Turn At / Keyword / Seam placements into StampAnnot boxes on OFD pages (mm, top-left origin).

The seal keeps its true size (SES_ESPictrueInfo width × height). A riding seam (骑缝章) gives every page
one StampAnnot whose Boundary is the whole seal, shifted so that only that page's slice lies on the page,
and a Clip (in the seal's own coordinates) that selects the slice — the layout ofdrw and readers use.
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.errors import SealBridgeError
from formats.ofd import OfdDocument, OfdPackage, Page
from formats.ofd.text import find_text
from stamping.placement import At, Keyword, Placement, Seam, check_count

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Annot:
    page: Page
    boundary: Box
    clip: Box | None = None


def _bad(msg: str) -> SealBridgeError:
    return SealBridgeError("PLACEMENT_INVALID", msg)


def _centred(page: Page, cx: float, cy: float, w: float, h: float) -> Annot:
    if not (0 <= cx <= page.width and 0 <= cy <= page.height):
        raise _bad(
            f"seal centre ({cx:.1f}, {cy:.1f}) mm is outside page {page.index + 1} ({page.width}×{page.height} mm)"
        )
    return Annot(page, (cx - w / 2, cy - h / 2, w, h))


def _page(doc: OfdDocument, number: int) -> Page:
    if not 1 <= number <= len(doc.pages):
        raise _bad(f"page {number} does not exist (the document has {len(doc.pages)} pages)")
    return doc.pages[number - 1]


def _seam(doc: OfdDocument, seam: Seam, w: float, h: float) -> list[Annot]:
    numbers = seam.pages(len(doc.pages))
    n = len(numbers)
    out: list[Annot] = []
    for i, number in enumerate(numbers):
        page = _page(doc, number)
        if seam.side in ("left", "right"):
            strip = w / n
            cy = seam.offset if seam.offset is not None else page.height / 2
            if not 0 <= cy <= page.height:
                raise _bad(f"seam offset {cy} mm is outside page {number}")
            x = page.width - (i + 1) * strip if seam.side == "right" else -i * strip
            out.append(Annot(page, (x, cy - h / 2, w, h), (i * strip, 0.0, strip, h)))
        else:
            strip = h / n
            cx = seam.offset if seam.offset is not None else page.width / 2
            if not 0 <= cx <= page.width:
                raise _bad(f"seam offset {cx} mm is outside page {number}")
            y = page.height - (i + 1) * strip if seam.side == "bottom" else -i * strip
            out.append(Annot(page, (cx - w / 2, y, w, h), (0.0, i * strip, w, strip)))
    return out


def resolve_placements(
    pkg: OfdPackage, doc: OfdDocument, placements: list[Placement], width_mm: float, height_mm: float
) -> list[Annot]:
    check_count(placements)
    if not doc.pages:
        raise _bad("the document has no pages")
    annots: list[Annot] = []
    for p in placements:
        if isinstance(p, At):
            annots.append(_centred(_page(doc, p.page), p.x, p.y, width_mm, height_mm))
        elif isinstance(p, Keyword):
            hits = find_text(pkg, doc, p.text)
            if not hits:
                raise _bad(f"keyword {p.text!r} not found")
            if p.nth is not None:
                if p.nth > len(hits):
                    raise _bad(f"keyword {p.text!r} occurs {len(hits)} times; no occurrence {p.nth}")
                hits = [hits[p.nth - 1]]
            for hit in hits:
                cx, cy = hit.centre
                annots.append(_centred(hit.page, cx + p.dx, cy + p.dy, width_mm, height_mm))
        elif isinstance(p, Seam):
            annots.extend(_seam(doc, p, width_mm, height_mm))
        else:  # pragma: no cover - the Placement union is closed
            raise _bad(f"unknown placement {p!r}")
    if len(annots) > 2000:
        raise SealBridgeError("DOC_TOO_LARGE", f"{len(annots)} seal images; the limit is 2000")
    return annots
