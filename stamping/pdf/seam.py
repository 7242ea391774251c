"""Riding seam (骑缝章): the seal cut into one strip per page, each strip on that page's edge.

Picture the pages stacked with their edges fanned out on the seam side: page 1 on top shows the strip
nearest the inside of the stack. So on the right side page 1 gets the leftmost strip, on the left side
the rightmost, on the bottom the topmost and on the top the bottommost; put together, the strips form
the whole seal. Every strip is as tall (left/right) or as wide (top/bottom) as the seal itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.errors import SealBridgeError
from stamping.pdf.appearance import Crop
from stamping.pdf.geometry import PageGeometry
from stamping.placement import Seam


@dataclass(frozen=True)
class Strip:
    page_index: int  # 0-based
    left_mm: float  # display box of the strip, mm from the displayed top-left
    top_mm: float
    width_mm: float
    height_mm: float
    crop: Crop


def seam_strips(
    seam: Seam, geometries: list[PageGeometry], seal_w_mm: float, seal_h_mm: float
) -> list[Strip]:
    pages = seam.pages(len(geometries))
    n = len(pages)
    strips: list[Strip] = []
    for k, page_no in enumerate(pages):
        geo = geometries[page_no - 1]
        page_w, page_h = geo.display_width_mm, geo.display_height_mm
        if seam.side in ("left", "right"):
            width, height = seal_w_mm / n, seal_h_mm
            centre = seam.offset if seam.offset is not None else page_h / 2
            _check_offset(centre, page_h, page_no)
            left = page_w - width if seam.side == "right" else 0.0
            top = centre - height / 2
            j = k if seam.side == "right" else n - 1 - k
            crop = Crop(left=j / n, right=(j + 1) / n, turn=geo.rotate)
        else:
            width, height = seal_w_mm, seal_h_mm / n
            centre = seam.offset if seam.offset is not None else page_w / 2
            _check_offset(centre, page_w, page_no)
            top = page_h - height if seam.side == "bottom" else 0.0
            left = centre - width / 2
            j = k if seam.side == "bottom" else n - 1 - k
            crop = Crop(top=j / n, bottom=(j + 1) / n, turn=geo.rotate)
        strips.append(Strip(page_no - 1, left, top, width, height, crop))
    return strips


def _check_offset(centre: float, extent: float, page_no: int) -> None:
    if not 0 <= centre <= extent:
        raise SealBridgeError(
            "PLACEMENT_INVALID", f"seam offset {centre:.1f} mm is outside page {page_no} ({extent:.1f} mm)"
        )
