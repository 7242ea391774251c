"""Placements (stamping.placement) → the widgets of each signature, in PDF user space.

One placement makes one signature ("one seal"): At → one widget; Keyword → one widget per selected hit;
Seam → one strip widget per page. All widgets of a signature share its single /Sig value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from formats.errors import SealBridgeError
from stamping.pdf.appearance import Crop
from stamping.pdf.geometry import PageGeometry, UserRect
from stamping.pdf.keywords import Hit
from stamping.pdf.seam import seam_strips
from stamping.placement import At, Keyword, Placement, Seam


@dataclass(frozen=True)
class Widget:
    page_index: int  # 0-based
    rect: UserRect
    crop: Crop
    box_mm: tuple[float, float, float, float]  # display left, top, width, height (mm)


@dataclass
class SealSpot:
    """Everything one signature draws."""

    widgets: list[Widget] = field(default_factory=list)
    kind: str = "at"


def _widget(
    geo: PageGeometry, page_index: int, left: float, top: float, w: float, h: float, crop: Crop
) -> Widget:
    rect = geo.box_to_user(left + w / 2, top + h / 2, w, h)
    return Widget(page_index, rect, crop, (left, top, w, h))


def _at(p: At, geometries: list[PageGeometry], w: float, h: float) -> SealSpot:
    if not 1 <= p.page <= len(geometries):
        raise SealBridgeError("PLACEMENT_INVALID", f"page {p.page} outside 1-{len(geometries)}")
    geo = geometries[p.page - 1]
    if not (0 <= p.x <= geo.display_width_mm and 0 <= p.y <= geo.display_height_mm):
        raise SealBridgeError(
            "PLACEMENT_INVALID",
            f"centre ({p.x}, {p.y}) mm is outside page {p.page} "
            f"({geo.display_width_mm:.1f} x {geo.display_height_mm:.1f} mm)",
        )
    crop = Crop(turn=geo.rotate)
    return SealSpot([_widget(geo, p.page - 1, p.x - w / 2, p.y - h / 2, w, h, crop)], "at")


def _keyword(p: Keyword, hits: list[Hit], geometries: list[PageGeometry], w: float, h: float) -> SealSpot:
    if not hits:
        raise SealBridgeError("PLACEMENT_INVALID", f"keyword {p.text!r} not found", {"keyword": p.text})
    if p.nth is not None:
        if p.nth > len(hits):
            raise SealBridgeError(
                "PLACEMENT_INVALID", f"keyword {p.text!r} occurs {len(hits)} times; no hit number {p.nth}"
            )
        hits = [hits[p.nth - 1]]
    spot = SealSpot(kind="keyword")
    for hit in hits:
        geo = geometries[hit.page_index]
        left, top, bw, bh = geo.user_to_box(hit.rect)
        cx, cy = left + bw / 2 + p.dx, top + bh / 2 + p.dy
        spot.widgets.append(_widget(geo, hit.page_index, cx - w / 2, cy - h / 2, w, h, Crop(turn=geo.rotate)))
    return spot


def _seam(p: Seam, geometries: list[PageGeometry], w: float, h: float) -> SealSpot:
    spot = SealSpot(kind="seam")
    for s in seam_strips(p, geometries, w, h):
        geo = geometries[s.page_index]
        spot.widgets.append(_widget(geo, s.page_index, s.left_mm, s.top_mm, s.width_mm, s.height_mm, s.crop))
    return spot


def resolve(
    placements: list[Placement],
    geometries: list[PageGeometry],
    seal_w_mm: float,
    seal_h_mm: float,
    find_keyword: Callable[[str], list[Hit]],
) -> list[SealSpot]:
    """One SealSpot per placement, in order. `find_keyword` runs the text search (once per distinct text)."""
    found: dict[str, list[Hit]] = {}
    spots: list[SealSpot] = []
    for p in placements:
        if isinstance(p, At):
            spots.append(_at(p, geometries, seal_w_mm, seal_h_mm))
        elif isinstance(p, Keyword):
            if p.text not in found:
                found[p.text] = find_keyword(p.text)
            spots.append(_keyword(p, found[p.text], geometries, seal_w_mm, seal_h_mm))
        elif isinstance(p, Seam):
            spots.append(_seam(p, geometries, seal_w_mm, seal_h_mm))
        else:
            raise SealBridgeError("PLACEMENT_INVALID", f"unknown placement {p!r}")
    return spots
