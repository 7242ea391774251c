"""OFD page previews (approval window): the page content and the seal where stamp() will put it."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest
from PIL import Image

from formats.errors import SealBridgeError
from formats.ses import parse_seal
from stamping.ofd.preview import render_ofd_preview
from stamping.placement import At, Seam


def _img(result: dict, i: int = 0) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(result["images"][i]["png_base64"]))).convert("RGB")


def _red(px) -> bool:
    return px[0] > 150 and px[1] < 110 and px[2] < 110


def test_seal_drawn_in_its_box_on_a_real_invoice(ofd_samples, pki):
    seal = parse_seal(pki.seal)
    data = (ofd_samples / "kinggrid-v4-relative-baseloc.ofd").read_bytes()
    here = render_ofd_preview(data, [At(page=1, x=100, y=70)], seal, [1], dpi=72)
    there = render_ofd_preview(data, [At(page=1, x=170, y=110)], seal, [1], dpi=72)
    assert here["page_count"] == 5
    a, b = _img(here), _img(there)
    scale = a.width / 210
    assert abs(a.height / scale - 140) < 1  # this invoice page is 210 × 140 mm

    def pixels(img, xs, ys):
        return [img.getpixel((round(x * scale), round(y * scale))) for x in xs for y in ys]

    box_a, box_b = (
        pixels(a, range(82, 119, 2), range(52, 89, 2)),
        pixels(b, range(82, 119, 2), range(52, 89, 2)),
    )
    assert sum(map(_red, box_a)) - sum(map(_red, box_b)) > 20  # the seal is where it was placed
    # elsewhere (far from both boxes) the page is identical: the invoice itself is drawn, untouched
    assert pixels(a, range(5, 60, 3), range(5, 130, 3)) == pixels(b, range(5, 60, 3), range(5, 130, 3))
    assert len(set(pixels(a, range(5, 60, 3), range(5, 130, 3)))) > 5  # and it is not blank


def test_riding_seam_strip_only_at_the_edge(pki, build_ofd):
    seal = parse_seal(pki.seal)
    result = render_ofd_preview(build_ofd(["", "", ""]), [Seam(side="right", offset=100)], seal, [1, 2, 3])
    for i in range(3):
        img = _img(result, i)
        scale = img.width / 210
        red_cols = {
            x
            for x in range(img.width)
            for y in range(round(80 * scale), round(120 * scale), 3)
            if _red(img.getpixel((x, y)))
        }
        assert red_cols and min(red_cols) >= round((210 - 40 / 3) * scale) - 2  # one 13.3 mm strip per page


def test_images_and_text_render(pki, build_ofd):
    blue = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 0, 255)).save(blue, "PNG")
    res = (
        '<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="http://www.ofdspec.org/2016" BaseLoc="Res">'
        '<ofd:MultiMedias><ofd:MultiMedia ID="77" Type="Image"><ofd:MediaFile>blue.png</ofd:MediaFile>'
        "</ofd:MultiMedia></ofd:MultiMedias></ofd:Res>"
    )
    layer = '<ofd:ImageObject ID="5" ResourceID="77" Boundary="10 10 50 30" CTM="50 0 0 30 0 0"/>'
    data = build_ofd(
        [layer], extra={"Doc_0/DocumentRes.xml": res.encode(), "Doc_0/Res/blue.png": blue.getvalue()}
    )
    # link DocumentRes from Document.xml
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "Doc_0/Document.xml":
                body = body.replace(
                    b"<ofd:MaxUnitID>", b"<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes><ofd:MaxUnitID>"
                )
            out.writestr(info.filename, body)
    img = _img(render_ofd_preview(buf.getvalue(), [At(page=1, x=150, y=200)], parse_seal(pki.seal), [1]))
    scale = img.width / 210
    assert img.getpixel((round(35 * scale), round(25 * scale))) == (0, 0, 255)
    assert img.getpixel((round(100 * scale), round(25 * scale))) == (255, 255, 255)


def test_bad_page(pki, simple_ofd):
    with pytest.raises(SealBridgeError) as err:
        render_ofd_preview(simple_ofd, [At(page=1, x=50, y=50)], parse_seal(pki.seal), [9])
    assert err.value.code == "PLACEMENT_INVALID"
