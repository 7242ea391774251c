"""Page geometry: millimetres from the top-left of the page *as displayed* ↔ PDF user space (points).

"As displayed" means the CropBox (default: MediaBox) turned by /Rotate, which is what a person sees
and measures. A seal box is given by its centre in display millimetres and its size in millimetres; the
widget /Rect is the same box in user space (width and height swap on pages turned by 90° or 270°).
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.errors import SealBridgeError

PT_PER_MM = 72.0 / 25.4


def mm_to_pt(mm: float) -> float:
    return mm * PT_PER_MM


def pt_to_mm(pt: float) -> float:
    return pt / PT_PER_MM


@dataclass(frozen=True)
class UserRect:
    """A rectangle in PDF user space: lower-left (x0, y0), upper-right (x1, y1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class PageGeometry:
    """The visible area of one page: CropBox ∩ MediaBox in user space, and the page rotation."""

    llx: float
    lly: float
    urx: float
    ury: float
    rotate: int  # 0, 90, 180 or 270 (clockwise, as /Rotate)

    @classmethod
    def from_boxes(
        cls, mediabox: tuple[float, ...], cropbox: tuple[float, ...] | None, rotate: int | float | None
    ) -> PageGeometry:
        mb = _normalise(mediabox, "MediaBox")
        box = mb
        if cropbox is not None:
            cb = _normalise(cropbox, "CropBox")
            # The visible region is the intersection (ISO 32000-2 §14.11.2); a CropBox outside is ignored.
            inter = (max(mb[0], cb[0]), max(mb[1], cb[1]), min(mb[2], cb[2]), min(mb[3], cb[3]))
            if inter[2] > inter[0] and inter[3] > inter[1]:
                box = inter
        rot = int(rotate or 0)
        if rot % 90:
            raise SealBridgeError("DOC_MALFORMED", f"/Rotate {rotate} is not a multiple of 90")
        return cls(*box, rotate=rot % 360)

    @property
    def user_width(self) -> float:
        return self.urx - self.llx

    @property
    def user_height(self) -> float:
        return self.ury - self.lly

    @property
    def turned(self) -> bool:
        return self.rotate in (90, 270)

    @property
    def display_width_mm(self) -> float:
        return pt_to_mm(self.user_height if self.turned else self.user_width)

    @property
    def display_height_mm(self) -> float:
        return pt_to_mm(self.user_width if self.turned else self.user_height)

    def to_user(self, u_mm: float, v_mm: float) -> tuple[float, float]:
        """Display point (mm right, mm down from the displayed top-left) → user-space point."""
        u, v = mm_to_pt(u_mm), mm_to_pt(v_mm)
        if self.rotate == 0:
            return self.llx + u, self.ury - v
        if self.rotate == 90:  # shown turned clockwise: the displayed top-left is the user lower-left
            return self.llx + v, self.lly + u
        if self.rotate == 180:
            return self.urx - u, self.lly + v
        return self.urx - v, self.ury - u  # 270

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """User-space point → display point in mm (inverse of to_user)."""
        if self.rotate == 0:
            u, v = x - self.llx, self.ury - y
        elif self.rotate == 90:
            u, v = y - self.lly, x - self.llx
        elif self.rotate == 180:
            u, v = self.urx - x, y - self.lly
        else:
            u, v = self.ury - y, self.urx - x
        return pt_to_mm(u), pt_to_mm(v)

    def box_to_user(self, cx_mm: float, cy_mm: float, w_mm: float, h_mm: float) -> UserRect:
        """A display box (centre and size in mm) → its user-space rectangle."""
        x0, y0 = self.to_user(cx_mm - w_mm / 2, cy_mm - h_mm / 2)
        x1, y1 = self.to_user(cx_mm + w_mm / 2, cy_mm + h_mm / 2)
        return UserRect(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def user_to_box(self, rect: UserRect) -> tuple[float, float, float, float]:
        """User-space rectangle → display box (left, top, width, height) in mm."""
        u0, v0 = self.to_display(rect.x0, rect.y0)
        u1, v1 = self.to_display(rect.x1, rect.y1)
        return min(u0, u1), min(v0, v1), abs(u1 - u0), abs(v1 - v0)


def _normalise(box: tuple[float, ...], what: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise SealBridgeError("DOC_MALFORMED", f"page {what} is not four numbers") from None
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise SealBridgeError("DOC_MALFORMED", f"page {what} is empty")
    return x0, y0, x1, y1
