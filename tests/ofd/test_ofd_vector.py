"""Vector ("ofd") seal pictures: rendering stays bounded and hostile pictures fail cleanly."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from formats.errors import SealBridgeError
from formats.ofd.vector import MAX_CANVAS_PX, render_ofd_picture
from stamping.sealview import decode_png


def test_garbage_picture_is_reported_not_raised():
    png, why = decode_png("ofd", b"PK\x03\x04 not really")
    assert png is None and why


def test_huge_page_is_refused(build_ofd):
    with pytest.raises(SealBridgeError):
        render_ofd_picture(build_ofd([""], page_size=(5000, 5000)))


def test_large_page_keeps_canvas_bounded_and_many_glyphs_stay_fast(build_ofd, text_obj):
    layer = "".join(text_obj("印" * 40, 5, 5 + i * 4, size=3, oid=300 + i) for i in range(60))
    start = time.perf_counter()
    png = render_ofd_picture(build_ofd([layer], page_size=(400, 300)))
    assert time.perf_counter() - start < 20
    img = Image.open(io.BytesIO(png))
    assert max(img.size) <= MAX_CANVAS_PX and img.width / img.height == pytest.approx(4 / 3, abs=0.01)


def test_path_shapes_render(build_ofd):
    layer = (
        '<ofd:PathObject ID="1" Boundary="0 0 40 40" LineWidth="1" Fill="true">'
        '<ofd:FillColor Value="255 0 0"/><ofd:StrokeColor Value="255 0 0"/>'
        "<ofd:AbbreviatedData>M 10 10 L 30 10 Q 35 20 30 30 B 20 35 15 35 10 30 A 1 1 0 0 1 10 20 C</ofd:AbbreviatedData>"
        "</ofd:PathObject>"
    )
    img = Image.open(io.BytesIO(render_ofd_picture(build_ofd([layer], page_size=(40, 40))))).convert("RGBA")
    scale = img.width / 40
    assert img.getpixel((int(20 * scale), int(20 * scale)))[:3] == (255, 0, 0)  # filled inside
    assert img.getpixel((int(2 * scale), int(2 * scale)))[3] == 0  # transparent outside
