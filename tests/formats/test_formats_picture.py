"""Seal pictures: the drawn round seal, and decoding of the pictures stored in real seals."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from formats import picture
from formats.picture import decode_picture, draw_round_seal, picture_to_png
from formats.ses import parse_seal, parse_signature


def _rgba(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img.convert("RGBA")


def _is_red(px: tuple[int, int, int, int]) -> bool:
    r, g, b, a = px
    return a > 200 and r > 180 and g < 80 and b < 80


def test_round_seal_is_a_transparent_red_seal_of_the_right_size():
    png = draw_round_seal(
        "宿迁示范科技有限公司", "合同专用章", diameter_mm=42, px_per_mm=10, code="3213020012345"
    )
    img = _rgba(png)
    assert img.size == (420, 420)
    for corner in [(0, 0), (419, 0), (0, 419), (419, 419)]:
        assert img.getpixel(corner)[3] == 0  # transparent outside the ring
    assert _is_red(img.getpixel((210, 205)))  # the star's centre
    assert any(_is_red(img.getpixel((x, 210))) for x in range(0, 12))  # the ring at the left edge
    # some red in the upper band where the company name runs, and in the band under the star
    assert sum(_is_red(img.getpixel((x, 40))) for x in range(100, 320)) > 5
    assert sum(_is_red(img.getpixel((x, 310))) for x in range(120, 300)) > 5
    # nothing but red and transparency
    colours = {px[:3] for _count, px in img.getcolors(1 << 20) if px[3] > 250}
    assert all(r > 150 and g < 120 and b < 120 for r, g, b in colours)


def test_round_seal_handles_long_and_latin_names_and_bounds():
    long_png = draw_round_seal("江苏省宿迁市" + "某" * 30 + "有限责任公司", "财务专用章", px_per_mm=4)
    latin_png = draw_round_seal("SealBridge Demo Co., Ltd.", "Contract", diameter_mm=40, px_per_mm=4)
    assert _rgba(long_png).size == (168, 168) and _rgba(latin_png).size == (160, 160)
    with pytest.raises(ValueError):
        draw_round_seal("", "x")
    with pytest.raises(ValueError):
        draw_round_seal("a", "b", diameter_mm=500)


def test_round_seal_without_a_cjk_font_still_draws(monkeypatch):
    monkeypatch.setattr(picture, "CJK_FONT_CANDIDATES", ("/nonexistent/font.ttc",))
    picture.cjk_font_path.cache_clear()
    try:
        img = _rgba(draw_round_seal("测试公司", "合同专用章", px_per_mm=4))
        assert img.size == (168, 168)
    finally:
        picture.cjk_font_path.cache_clear()


def test_sample_seal_pictures_decode(seals_dir: Path, samples: Path):
    seal = parse_seal((seals_dir / "ofdrw-v4.esl").read_bytes())
    png = picture_to_png(seal.picture.type, seal.picture.data)
    assert png is not None and _rgba(png).size[0] > 0
    import zipfile

    with zipfile.ZipFile(samples / "ofd" / "kinggrid-v1.ofd") as zf:
        sig = parse_signature(zf.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert sig.seal.picture.type == "gif"
    gif_png = picture_to_png("GIF", sig.seal.picture.data)  # type compared case-insensitively
    assert gif_png is not None
    with zipfile.ZipFile(samples / "ofd" / "gomain-invoice-v4.ofd") as zf:
        tax = parse_signature(zf.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert tax.seal.picture.type == "ofd"
    assert decode_picture(tax.seal.picture.type, tax.seal.picture.data) == (
        None,
        "vector OFD picture, not rendered",
    )


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "declared"), [("BMP", "bmp"), ("JPEG", "jpg"), ("JPEG", "JPEG"), ("GIF", "Gif")]
)
def test_opaque_rasters_get_a_transparent_background(fmt: str, declared: str):
    img = Image.new("RGB", (60, 60), "white")
    for x in range(20, 40):
        for y in range(20, 40):
            img.putpixel((x, y), (230, 0, 18))
    png = picture_to_png(declared, _encode(img, fmt))
    out = _rgba(png)
    assert out.getpixel((2, 2))[3] == 0
    assert out.getpixel((30, 30))[3] == 255


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def test_huge_and_broken_pictures_are_declined_with_a_reason():
    png, reason = decode_picture("png", _png_header_only(50000, 50000))
    assert png is None and ("bomb" in reason or "exceeds" in reason)
    png, reason = decode_picture("png", _png_header_only(4500, 10))
    assert png is None and "exceeds" in reason
    assert decode_picture("png", b"not an image")[0] is None
    assert decode_picture("png", b"")[1] == "empty picture"
    assert "unsupported picture type" in decode_picture("svg", b"<svg/>")[1]
    truncated = _encode(Image.new("RGB", (50, 50), "red"), "PNG")[:60]
    assert decode_picture("PNG", truncated)[0] is None


def test_oval_and_square_seals():
    from formats.picture import draw_oval_seal, draw_square_seal

    oval = _rgba(draw_oval_seal("宿迁示范科技有限公司", "发票专用章", px_per_mm=5, code="91321302MA1XXXXXX1"))
    assert oval.size == (200, 150)
    assert oval.getpixel((0, 0))[3] == 0 and oval.getpixel((199, 149))[3] == 0
    assert any(_is_red(oval.getpixel((x, 75))) for x in range(0, 8))  # the ring's left end
    square = _rgba(draw_square_seal("张三", size_mm=20, px_per_mm=5))
    assert square.size == (100, 100)
    assert _is_red(square.getpixel((1, 50))) and _is_red(square.getpixel((50, 1)))  # the border
    assert sum(_is_red(square.getpixel((x, 30))) for x in range(10, 90)) > 3  # the characters
    with pytest.raises(ValueError):
        draw_square_seal(" ")
    with pytest.raises(ValueError):
        draw_oval_seal("x", "y", width_mm=500)
