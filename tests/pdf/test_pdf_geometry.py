"""Display millimetres (top-left origin, as shown) ↔ PDF user space, for every /Rotate and a CropBox."""

from __future__ import annotations

import pytest

from formats.errors import SealBridgeError
from stamping.pdf.appearance import Crop
from stamping.pdf.geometry import PT_PER_MM, PageGeometry, UserRect
from stamping.pdf.seam import seam_strips
from stamping.placement import Seam

CROP = (30.0, 40.0, 560.0, 800.0)  # 530 x 760 pt


def _geo(rotate: int) -> PageGeometry:
    return PageGeometry.from_boxes((0, 0, 595, 842), CROP, rotate)


def test_unrotated_top_left_is_cropbox_top_left() -> None:
    geo = _geo(0)
    assert geo.to_user(0, 0) == (30.0, 800.0)
    assert geo.to_user(10, 20) == pytest.approx((30 + 10 * PT_PER_MM, 800 - 20 * PT_PER_MM))
    assert geo.display_width_mm == pytest.approx(530 / PT_PER_MM)


@pytest.mark.parametrize(
    ("rotate", "corner"),
    # the user-space corner that is shown at the top-left of the turned page
    [(0, (30, 800)), (90, (30, 40)), (180, (560, 40)), (270, (560, 800))],
)
def test_displayed_top_left_corner(rotate: int, corner: tuple[float, float]) -> None:
    assert _geo(rotate).to_user(0, 0) == pytest.approx(corner)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_round_trip_and_box_sizes(rotate: int) -> None:
    geo = _geo(rotate)
    for u, v in [(0, 0), (12.5, 33.3), (geo.display_width_mm, geo.display_height_mm)]:
        assert geo.to_display(*geo.to_user(u, v)) == pytest.approx((u, v))
    rect = geo.box_to_user(50, 60, 40, 20)
    turned = rotate in (90, 270)
    assert rect.width == pytest.approx((20 if turned else 40) * PT_PER_MM)
    assert rect.height == pytest.approx((40 if turned else 20) * PT_PER_MM)
    assert geo.user_to_box(rect) == pytest.approx((30, 50, 40, 20))
    if turned:
        assert geo.display_width_mm == pytest.approx(760 / PT_PER_MM)


def test_cropbox_outside_mediabox_is_ignored_and_bad_rotate_refused() -> None:
    geo = PageGeometry.from_boxes((0, 0, 595, 842), (700, 900, 800, 1000), None)
    assert (geo.llx, geo.lly, geo.urx, geo.ury) == (0, 0, 595, 842)
    assert PageGeometry.from_boxes((0, 0, 595, 842), None, -90).rotate == 270
    with pytest.raises(SealBridgeError):
        PageGeometry.from_boxes((0, 0, 595, 842), None, 45)
    with pytest.raises(SealBridgeError):
        PageGeometry.from_boxes((0, 0, 0, 842), None, 0)


def test_seam_strips_cut_the_seal_in_page_order() -> None:
    geos = [PageGeometry.from_boxes((0, 0, 595.276, 841.89), None, 0)] * 4
    right = seam_strips(Seam("right"), geos, 40, 40)
    assert [s.crop.left for s in right] == pytest.approx([0, 0.25, 0.5, 0.75])
    assert all(
        s.width_mm == pytest.approx(10) and s.left_mm + 10 == pytest.approx(210, abs=0.01) for s in right
    )
    left = seam_strips(Seam("left", first_page=2, last_page=3), geos, 40, 40)
    assert [s.page_index for s in left] == [1, 2]
    assert [s.crop.left for s in left] == pytest.approx([0.5, 0])
    top = seam_strips(Seam("top", offset=50), geos, 40, 40)
    assert [s.crop.top for s in top] == pytest.approx([0.75, 0.5, 0.25, 0])
    assert top[0].top_mm == 0 and top[0].left_mm == pytest.approx(30)
    with pytest.raises(SealBridgeError):
        seam_strips(Seam("right", offset=500), geos, 40, 40)
    assert Crop().is_whole and not right[0].crop.is_whole
    assert UserRect(0, 0, 2, 3).as_tuple() == (0, 0, 2, 3)
