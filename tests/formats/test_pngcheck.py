"""formats.pngcheck: a seal picture that is already a plain transparent PNG is shown as it is; every other
picture, and anything damaged, goes through Pillow (formats.picture) as before."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from formats.picture import decode_picture, draw_round_seal
from formats.pngcheck import plain_transparent_png
from stamping.sealview import decode_png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(
    width: int = 4,
    height: int = 3,
    depth: int = 8,
    colour: int = 6,
    rows: bytes | None = None,
    before: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    after: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    interlace: int = 0,
) -> bytes:
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = (width * samples * depth + 7) // 8
    if rows is None:
        rows = b"".join(b"\x00" + bytes((y * 7 + x) % 256 for x in range(row)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(_chunk(k, b) for k, b in before)
        + _chunk(b"IDAT", zlib.compress(rows))
        + b"".join(_chunk(k, b) for k, b in after)
        + _chunk(b"IEND", b"")
    )


def _pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as img:
        return img.convert("RGBA").tobytes()


def test_a_seal_drawn_by_sealbridge_is_shown_as_it_is() -> None:
    png = draw_round_seal("测试有限公司", "合同专用章", diameter_mm=40, px_per_mm=6)
    assert plain_transparent_png(png)
    assert decode_png("png", png) == (png, "")
    assert decode_png("", png) == (png, "")
    # The same pixels Pillow's re-encoding shows.
    assert _pixels(png) == _pixels(decode_picture("png", png)[0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "png",
    [
        _png(colour=6),
        _png(colour=6, depth=16),
        _png(colour=4),
        _png(colour=0, before=[(b"tRNS", b"\x00\x00")]),
        _png(colour=2, before=[(b"pHYs", bytes(9)), (b"tRNS", bytes(6))]),
        _png(
            colour=3,
            depth=4,
            rows=b"\x00\x01\x23" * 3,
            before=[(b"PLTE", bytes(range(48))), (b"tRNS", b"\x00\xff")],
        ),
    ],
    ids=["rgba", "rgba16", "grey+alpha", "grey+key", "rgb+key", "palette+alpha"],
)
def test_transparent_pngs_pass_and_decode(png: bytes) -> None:
    assert plain_transparent_png(png)
    _pixels(png)  # and Pillow reads it


def _bad_filter() -> bytes:
    rows = b"".join(b"\x05" + bytes(16) for _ in range(3))  # filter type 5 does not exist
    return _png(rows=rows)


def _flip(png: bytes, at: int) -> bytes:
    damaged = bytearray(png)
    damaged[at] ^= 1
    return bytes(damaged)


@pytest.mark.parametrize(
    "png",
    [
        _png(colour=2),  # opaque: formats.picture makes its white transparent
        _png(colour=0),
        _png(before=[(b"tEXt", b"Comment\x00hello")]),
        _png(before=[(b"gAMA", struct.pack(">I", 45455))]),
        _png(interlace=1),
        _bad_filter(),
        _png(rows=b"\x00" + bytes(16)),  # fewer rows than the header says
        _png(rows=b"\x00" + bytes(16) * 40),  # more
        _png() + b"trailing",
        _png(after=[(b"pHYs", bytes(9))]),  # a chunk after the image data
        _png(colour=6, before=[(b"tRNS", b"\x00\x00")]),  # alpha and a key colour
        _png(colour=3, depth=1, rows=b"\x00\x00" * 3, before=[(b"PLTE", bytes(9)), (b"tRNS", b"\x00")]),  # 3 > 2
        _png(colour=3, depth=8, rows=b"\x00" + bytes(4), height=1, before=[(b"tRNS", b"\x00"), (b"PLTE", bytes(3))]),
        _png(width=5000, height=1, rows=b"\x00" + bytes(20000)),
        _flip(_png(), 20),  # the IHDR's CRC no longer matches
        _png()[:-20],
        b"GIF89a" + bytes(20),
        b"",
    ],
    ids=[
        "rgb opaque", "grey opaque", "text chunk", "gamma", "interlaced", "filter 5", "short", "long",
        "after IEND", "pHYs after IDAT", "alpha with tRNS", "palette too big", "tRNS before PLTE",
        "too wide", "bad CRC", "truncated", "gif", "empty",
    ],
)  # fmt: skip
def test_anything_else_goes_to_pillow(png: bytes) -> None:
    assert not plain_transparent_png(png)


def test_an_opaque_png_is_still_made_transparent() -> None:
    im = Image.new("RGB", (20, 20), (255, 255, 255))
    im.putpixel((10, 10), (200, 0, 0))
    out = io.BytesIO()
    im.save(out, "PNG")
    png, why = decode_png("png", out.getvalue())
    assert png is not None and png != out.getvalue() and why == ""
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.convert("RGBA").getpixel((0, 0))[3] == 0  # the white background is see-through
