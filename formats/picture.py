"""Seal pictures: draw a round company seal, and turn a seal's stored picture into a transparent PNG.

draw_round_seal makes the imprint SealBridge's dev PKI and platform put in the seals they make: a red
ring, the company name around the upper arc, a five-pointed star, the seal kind under it, and an
optional code along the lower arc. picture_to_png decodes the raster pictures found in real seals
(PNG/GIF/BMP/JPG) with bounds, and declines vector OFD pictures (the OFD renderer may draw those).
"""

from __future__ import annotations

import io
import math
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .picture_limits import MAX_PICTURE_BYTES, MAX_PICTURE_PIXELS, MAX_PICTURE_PX

SEAL_RED = (230, 0, 18, 255)  # #E60012, the usual imprint red
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
MIN_SQUEEZE = 0.6  # narrowest characters on the arc before the font shrinks instead
SUPERSAMPLE = 3  # draw large, then downscale: smooth ring and star edges
_INK_LEVELS = 16  # coverage levels of the ink in the stored picture (a 4-bit palette)
RASTER_FORMATS = {"PNG", "GIF", "BMP", "JPEG"}
_TYPE_ALIASES = {"png": "PNG", "gif": "GIF", "bmp": "BMP", "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG"}


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """The first CJK font found on this machine, or None (then Latin-only text is drawn)."""
    for candidate in CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path()
    if path:
        try:
            return ImageFont.truetype(path, size_px)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size_px)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _glyph_tile(ch: str, font: ImageFont.ImageFont, size_px: int, squeeze: float) -> Image.Image:
    """One character centred on a transparent square tile, optionally narrowed (long company names)."""
    side = round(size_px * 1.4)  # a glyph centred with anchor "mm" stays within ~1.1 em
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    draw.text((side / 2, side / 2), ch, font=font, fill=SEAL_RED, anchor="mm")
    if squeeze < 0.999:
        width = max(1, round(side * squeeze))
        narrowed = tile.resize((width, side), Image.LANCZOS)
        tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        tile.alpha_composite(narrowed, ((side - width) // 2, 0))
    return tile


def _paste_rotated(canvas: Image.Image, tile: Image.Image, cx: float, cy: float, degrees_cw: float) -> None:
    rotated = tile.rotate(-degrees_cw, resample=Image.BICUBIC, expand=True)
    canvas.alpha_composite(rotated, (round(cx - rotated.width / 2), round(cy - rotated.height / 2)))


def _arc_text(
    canvas: Image.Image,
    text: str,
    centre: float,
    edge: float,
    font_px: int,
    max_span_deg: float,
    bottom: bool,
) -> None:
    """Characters along the top arc (tops outward) or the bottom arc (upright, tops inward).

    `edge` is the radius the characters' outer side touches; spaces keep their width but draw nothing.
    """
    chars = list(text.strip()) or [" "]
    radius = edge - font_px / 2
    font = _font(font_px)
    advances = [max(float(font.getlength(c)), font_px * 0.5) * 1.08 for c in chars]
    natural = math.degrees(sum(advances) / radius)
    squeeze = 1.0
    if natural > max_span_deg:
        squeeze = max_span_deg / natural
        if squeeze < MIN_SQUEEZE:  # very long names: smaller characters rather than unreadable slivers
            font_px = max(4, round(font_px * squeeze / MIN_SQUEEZE))
            font = _font(font_px)
            radius = edge - font_px / 2
            advances = [max(float(font.getlength(c)), font_px * 0.5) * 1.08 for c in chars]
            squeeze = min(1.0, max_span_deg / math.degrees(sum(advances) / radius))
    steps = [math.degrees(a * squeeze / radius) for a in advances]
    span = sum(steps)
    position = -span / 2
    for ch, step in zip(chars, steps, strict=True):
        offset = position + step / 2
        position += step
        if ch.isspace():
            continue
        tile = _glyph_tile(ch, font, font_px, squeeze)
        if not bottom:
            angle = math.radians(offset)  # clockwise from 12 o'clock
            x = centre + radius * math.sin(angle)
            y = centre - radius * math.cos(angle)
            _paste_rotated(canvas, tile, x, y, offset)
        else:
            angle = math.radians(offset)  # left to right along the bottom, tops toward the centre
            x = centre + radius * math.sin(angle)
            y = centre + radius * math.cos(angle)
            _paste_rotated(canvas, tile, x, y, -offset)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, outer: float) -> None:
    inner = outer * 0.382  # the inner radius of a regular five-pointed star
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = math.radians(-90 + 36 * k)
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(points, fill=SEAL_RED)


def _centred_text(
    canvas: Image.Image, text: str, cx: float, cy: float, font_px: int, max_width: float
) -> None:
    if not text:
        return
    font = _font(font_px)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, anchor="lt")
    width, height = max(1, right - left), max(1, bottom - top)
    layer = Image.new("RGBA", (width + 4, height + 4), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((2 - left, 2 - top), text, font=font, fill=SEAL_RED, anchor="lt")
    if width > max_width:  # squeeze long labels horizontally, as seal engravers do
        layer = layer.resize((max(1, round(layer.width * max_width / width)), layer.height), Image.LANCZOS)
    canvas.alpha_composite(layer, (round(cx - layer.width / 2), round(cy - layer.height / 2)))


def draw_round_seal(
    company: str,
    kind_label: str,
    *,
    diameter_mm: float = 42,
    px_per_mm: float = 12,
    code: str | None = None,
) -> bytes:
    """A round company seal as a transparent PNG of diameter_mm x px_per_mm pixels square."""
    if not isinstance(company, str) or not company.strip():
        raise ValueError("company name is required")
    if not 10 <= diameter_mm <= 100 or not 2 <= px_per_mm <= 40:
        raise ValueError("diameter_mm must be 10..100 and px_per_mm 2..40")
    size = round(diameter_mm * px_per_mm)
    big = size * SUPERSAMPLE
    unit = big / diameter_mm  # pixels per mm on the large canvas
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    centre = big / 2
    ring = 1.2 * unit * diameter_mm / 42
    margin = 0.3 * unit
    draw.ellipse((margin, margin, big - margin, big - margin), outline=SEAL_RED, width=max(1, round(ring)))
    scale = diameter_mm / 42  # the layout below is proportioned for the common 42 mm seal
    name_px = round(6.4 * scale * unit)
    name_edge = centre - margin - ring - 0.9 * unit * scale
    _arc_text(canvas, company.strip(), centre, name_edge, name_px, 250, bottom=False)
    _star(draw, centre, centre, 7.0 * scale * unit)
    _centred_text(
        canvas,
        kind_label.strip(),
        centre,
        centre + 10.5 * scale * unit,
        round(4.6 * scale * unit),
        max_width=22 * scale * unit,
    )
    if code:
        code_px = round(2.6 * scale * unit)
        code_edge = centre - margin - ring - 0.7 * unit * scale
        _arc_text(canvas, code, centre, code_edge, code_px, 80, bottom=True)
    return _finish(canvas, size, size, px_per_mm)


def _finish(canvas: Image.Image, width_px: int, height_px: int, px_per_mm: float) -> bytes:
    """Downscale the supersampled drawing and store it as a small indexed-colour PNG.

    Everything drawn is SEAL_RED with soft edges, so the picture is exactly the ink colour at
    _INK_LEVELS coverage levels: a 4-bit palette PNG whose tRNS entries carry the coverage. A 42 mm seal
    at 12 px/mm (305 dpi) is about 16 KB this way instead of about 100 KB as 8-bit RGBA, and the seal
    travels inside every signature that uses it.
    """
    image = canvas.resize((width_px, height_px), Image.LANCZOS)
    levels = image.getchannel("A").point(lambda v: round(v * (_INK_LEVELS - 1) / 255))
    indexed = Image.frombytes("P", levels.size, levels.tobytes())
    indexed.putpalette(bytes(SEAL_RED[:3]) * _INK_LEVELS)
    out = io.BytesIO()
    dpi = px_per_mm * 25.4
    indexed.save(
        out,
        format="PNG",
        dpi=(dpi, dpi),
        bits=4,
        optimize=True,
        transparency=bytes(round(i * 255 / (_INK_LEVELS - 1)) for i in range(_INK_LEVELS)),
    )
    return out.getvalue()


def draw_oval_seal(
    company: str,
    kind_label: str,
    *,
    width_mm: float = 40,
    height_mm: float = 30,
    px_per_mm: float = 12,
    code: str | None = None,
) -> bytes:
    """An oval seal (the shape of 发票专用章): company along the upper arc, the code (e.g. the taxpayer
    number) across the middle, the kind label under it. Transparent PNG."""
    if not isinstance(company, str) or not company.strip():
        raise ValueError("company name is required")
    if not (10 <= width_mm <= 100 and 10 <= height_mm <= 100 and 2 <= px_per_mm <= 40):
        raise ValueError("width_mm/height_mm must be 10..100 and px_per_mm 2..40")
    w_px, h_px = round(width_mm * px_per_mm), round(height_mm * px_per_mm)
    unit = px_per_mm * SUPERSAMPLE
    canvas = Image.new("RGBA", (w_px * SUPERSAMPLE, h_px * SUPERSAMPLE), (0, 0, 0, 0))
    cx, cy = canvas.width / 2, canvas.height / 2
    ring = 1.0 * unit
    margin = 0.3 * unit
    ImageDraw.Draw(canvas).ellipse(
        (margin, margin, canvas.width - margin, canvas.height - margin), outline=SEAL_RED, width=round(ring)
    )
    font_px = round(min(width_mm, height_mm * 1.3) / 40 * 5.2 * unit)
    inset = margin + ring + 0.8 * unit + font_px / 2
    a, b = cx - inset, cy - inset  # semi-axes of the ellipse the characters' centres sit on
    chars = list(company.strip())
    font = _font(font_px)
    # Sample the upper arc by arc length, then give each character an equal share of it.
    t_max = math.radians(82)  # keep the name clear of the code line
    samples = [(-t_max + 2 * t_max * i / 720) for i in range(721)]
    points = [(a * math.sin(t), -b * math.cos(t)) for t in samples]
    lengths = [0.0]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        lengths.append(lengths[-1] + math.hypot(x1 - x0, y1 - y0))
    needed = len(chars) * font_px * 1.05
    squeeze = min(1.0, lengths[-1] / needed)
    used = min(needed, lengths[-1])
    start = (lengths[-1] - used) / 2
    for i, ch in enumerate(chars):
        target = start + used * (i + 0.5) / len(chars)
        k = min(range(len(lengths)), key=lambda j: abs(lengths[j] - target))
        t = samples[k]
        x, y = cx + a * math.sin(t), cy - b * math.cos(t)
        degrees = math.degrees(math.atan2(b * math.sin(t), a * math.cos(t)))
        if not ch.isspace():
            _paste_rotated(canvas, _glyph_tile(ch, font, font_px, squeeze), x, y, degrees)
    if code:
        _centred_text(canvas, code, cx, cy + 0.5 * unit, round(3.0 * unit), max_width=canvas.width * 0.62)
    _centred_text(
        canvas,
        kind_label.strip(),
        cx,
        cy + height_mm * 0.27 * unit,
        round(4.2 * unit),
        max_width=canvas.width * 0.5,
    )
    return _finish(canvas, w_px, h_px, px_per_mm)


def draw_square_seal(
    name: str, *, size_mm: float = 20, px_per_mm: float = 12, add_suffix: bool = True
) -> bytes:
    """A square personal name seal (电子私章 / 电子职务章): the holder's name, read in columns from the right.

    Two-character names become "XX之印" and three-character names "XXX印" (add_suffix), filling a 2x2
    grid as engravers do; other lengths are set on one line, narrowed to fit.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("holder name is required")
    if not (8 <= size_mm <= 60 and 2 <= px_per_mm <= 40):
        raise ValueError("size_mm must be 8..60 and px_per_mm 2..40")
    text = name.strip() if name.isascii() else "".join(name.split())
    if add_suffix and len(text) == 2:
        text += "之印"
    elif add_suffix and len(text) == 3:
        text += "印"
    side = round(size_mm * px_per_mm)
    big = side * SUPERSAMPLE
    unit = big / size_mm
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    border = 0.06 * size_mm * unit
    ImageDraw.Draw(canvas).rectangle((0, 0, big - 1, big - 1), outline=SEAL_RED, width=round(border))
    inner = big - 2 * border
    if len(text) == 4:
        cell = inner / 2
        font_px = round(cell * 0.92)
        font = _font(font_px)
        # right column top to bottom, then the left column
        for ch, (col, row) in zip(text, [(1, 0), (1, 1), (0, 0), (0, 1)], strict=True):
            x = border + cell * col + cell / 2
            y = border + cell * row + cell / 2
            tile = _glyph_tile(ch, font, font_px, 1.0)
            canvas.alpha_composite(tile, (round(x - tile.width / 2), round(y - tile.height / 2)))
    else:
        _centred_text(canvas, text, big / 2, big / 2, round(inner * 0.45), max_width=inner * 0.92)
    return _finish(canvas, side, side, px_per_mm)


def decode_picture(picture_type: str, data: bytes) -> tuple[bytes | None, str]:
    """(PNG bytes, "") for a raster seal picture, or (None, reason) when it cannot or should not be shown."""
    declared = (picture_type or "").strip().lower()
    if declared == "ofd":
        return None, "vector OFD picture, not rendered"
    if not data:
        return None, "empty picture"
    if len(data) > MAX_PICTURE_BYTES:
        return None, f"picture of {len(data)} bytes is larger than {MAX_PICTURE_BYTES}"
    if declared and declared not in _TYPE_ALIASES:
        return None, f"unsupported picture type {picture_type!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in RASTER_FORMATS:
                    return None, f"picture data is {img.format}, not a seal raster format"
                w, h = img.size
                if w > MAX_PICTURE_PX or h > MAX_PICTURE_PX or w * h > MAX_PICTURE_PIXELS:
                    return None, f"picture of {w}x{h} px exceeds the {MAX_PICTURE_PX} px limit"
                img.seek(0)
                had_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
                rgba = img.convert("RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, "picture rejected as a decompression bomb"
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow's ways of saying "broken image"
        return None, f"undecodable {declared or 'picture'} data: {type(exc).__name__}"
    if not had_alpha:
        rgba = _white_to_transparent(rgba)
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue(), ""


def _white_to_transparent(img: Image.Image) -> Image.Image:
    """Opaque BMP/JPG seals have a white background; make it see-through so the seal does not hide text."""
    r, g, b, a = img.split()
    light = Image.eval(Image.merge("RGB", (r, g, b)).convert("L"), lambda v: 0 if v > 235 else 255)
    alpha = Image.composite(a, light, light)
    img.putalpha(alpha)
    return img


def picture_to_png(picture_type: str, data: bytes) -> bytes | None:
    """PNG bytes for a raster seal picture; None for vector (OFD) or unusable pictures (see decode_picture)."""
    return decode_picture(picture_type, data)[0]
