"""Render a small vector OFD (a seal picture of type "ofd", as tax e-invoice seals carry) to a PNG.

Also the drawing primitives of formats.ofd.pagerender (document page previews). Only what seal pictures and
simple documents use: PathObjects (AbbreviatedData: S/M/L/Q/B/A/C, stroke and fill, CTM) and
TextObjects (TextCode with DeltaX/DeltaY, CTM rotations, fill colour), ImageObjects, drawn with Pillow and the system CJK
font. The OFD names a font (e.g. 楷体) that is rarely installed; glyph shapes therefore differ slightly,
positions and sizes do not. Anything else in the page is ignored.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from formats.errors import SealBridgeError
from formats.ofd.document import load_document
from formats.ofd.limits import PackageLimits
from formats.ofd.package import OfdPackage
from formats.ofd.text import parse_deltas
from formats.ofd.xmlsafe import attr, child, local, parse_box

#: A seal picture is a few kB; refuse anything that is not small.
PICTURE_LIMITS = PackageLimits(max_entries=200, max_total_uncompressed=16 << 20, max_xml_bytes=4 << 20)
PX_PER_MM = 12.0
MAX_CANVAS_PX = 1600  # seal pictures are at most ~60 mm; the resolution drops for anything larger
MAX_OBJECTS = 2000
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (row-vector convention: p' = p·m·n)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n  # noqa: N806
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _object_matrix(el: etree._Element, scale: float) -> Matrix:
    """Object space → canvas pixels: CTM, then the Boundary origin, then mm → px."""
    box = parse_box(attr(el, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
    nums = [float(v) for v in attr(el, "CTM").split()] if attr(el, "CTM") else []
    ctm: Matrix = tuple(nums) if len(nums) == 6 else _IDENTITY  # type: ignore[assignment]
    return _mul(_mul(ctm, (1, 0, 0, 1, box[0], box[1])), (scale, 0, 0, scale, 0, 0))


def _colour(el: etree._Element | None, default: tuple[int, int, int]) -> tuple[int, int, int, int]:
    if el is None:
        return (*default, 255)
    parts = attr(el, "Value").replace(",", " ").split()
    try:
        rgb = [int(p[1:], 16) if p.startswith("#") else int(float(p)) for p in parts[:3]]
    except ValueError:
        rgb = list(default)
    rgb = (rgb + list(default))[:3]
    alpha = attr(el, "Alpha")
    return (*(max(0, min(255, v)) for v in rgb), int(alpha) if alpha.isdigit() else 255)  # type: ignore[return-value]


def _flatten(data: str) -> list[list[tuple[float, float]]]:
    """AbbreviatedData → polylines in object space (curves sampled, arcs approximated by their chord ends)."""
    toks = data.split()
    paths: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    pos = (0.0, 0.0)
    i = 0

    def nums(n: int) -> list[float]:
        nonlocal i
        vals = [float(t) for t in toks[i + 1 : i + 1 + n]]
        if len(vals) != n:
            raise ValueError("short path command")
        i += n + 1
        return vals

    while i < len(toks):
        op = toks[i]
        if op in ("S", "M"):
            x, y = nums(2)
            if len(cur) > 1:
                paths.append(cur)
            cur, pos = [(x, y)], (x, y)
        elif op == "L":
            pos = tuple(nums(2))  # type: ignore[assignment]
            cur.append(pos)
        elif op in ("Q", "B"):
            pts = nums(4 if op == "Q" else 6)
            ctrl = [pos] + [(pts[k], pts[k + 1]) for k in range(0, len(pts), 2)]
            for step in range(1, 17):
                t = step / 16
                cur.append(_bezier(ctrl, t))
            pos = ctrl[-1]
        elif op == "A":
            vals = nums(7)
            pos = (vals[5], vals[6])
            cur.append(pos)
        elif op == "C":
            i += 1
            if cur:
                cur.append(cur[0])
        else:
            i += 1  # unknown token: skip
    if len(cur) > 1:
        paths.append(cur)
    return paths


def _bezier(ctrl: list[tuple[float, float]], t: float) -> tuple[float, float]:
    pts = ctrl
    while len(pts) > 1:
        pts = [
            ((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in zip(pts, pts[1:], strict=False)
        ]
    return pts[0]


def _draw_path(canvas: Image.Image, el: etree._Element, scale: float) -> None:
    abbreviated = child(el, "AbbreviatedData")
    if abbreviated is None or not abbreviated.text:
        return
    m = _object_matrix(el, scale)
    try:
        paths = _flatten(abbreviated.text)
        width_mm = float(attr(el, "LineWidth", "0.353"))
    except ValueError:
        return
    draw = ImageDraw.Draw(canvas)
    line_px = max(1, round(width_mm * scale * math.sqrt(abs(m[0] * m[3] - m[1] * m[2])) / scale))
    for path in paths:
        pts = [_apply(m, x, y) for x, y in path]
        if attr(el, "Fill", "false").lower() == "true":
            draw.polygon(pts, fill=_colour(child(el, "FillColor"), (0, 0, 0)))
        if attr(el, "Stroke", "true").lower() != "false":
            draw.line(pts, fill=_colour(child(el, "StrokeColor"), (0, 0, 0)), width=line_px, joint="curve")


def _draw_text(canvas: Image.Image, el: etree._Element, scale: float, font_path: str | None) -> None:
    m = _object_matrix(el, scale)
    try:
        size = float(attr(el, "Size", "3.5"))
    except ValueError:
        return
    colour = _colour(child(el, "FillColor"), (0, 0, 0))
    tile_px = max(8, round(size * scale * 1.5))
    font = ImageFont.truetype(font_path, round(size * scale)) if font_path else ImageFont.load_default()
    x0 = y0 = 0.0
    for code in el:
        if local(code) != "TextCode":
            continue
        try:
            x0 = float(attr(code, "X")) if attr(code, "X") else x0
            y0 = float(attr(code, "Y")) if attr(code, "Y") else y0
        except ValueError:
            continue
        dxs, dys = parse_deltas(attr(code, "DeltaX")), parse_deltas(attr(code, "DeltaY"))
        x, y = x0, y0
        for k, ch in enumerate(code.text or ""):
            tile = Image.new("RGBA", (tile_px, tile_px), (0, 0, 0, 0))
            # glyph baseline at tile y = size*scale (one em down), origin at tile x = 0
            ImageDraw.Draw(tile).text((0, size * scale), ch, font=font, fill=colour, anchor="ls")
            # tile pixel (u, v) ↔ object point (x + u/scale, y - size + v/scale)
            to_obj: Matrix = (1 / scale, 0, 0, 1 / scale, x, y - size)
            fwd = _mul(to_obj, m)
            _composite(canvas, tile, fwd)
            x += dxs[k] if k < len(dxs) else size
            y += dys[k] if k < len(dys) else 0.0


def _composite(canvas: Image.Image, tile: Image.Image, fwd: Matrix) -> None:
    """Paint `tile` onto `canvas` through the affine map `fwd` (tile px → canvas px), touching only its box."""
    a, b, c, d, e, f = fwd  # canvas = (u*a + v*c + e, u*b + v*d + f)
    det = a * d - b * c
    if abs(det) < 1e-12:
        return
    corners = [_apply(fwd, u, v) for u in (0, tile.width) for v in (0, tile.height)]
    x0 = max(0, math.floor(min(p[0] for p in corners)))
    y0 = max(0, math.floor(min(p[1] for p in corners)))
    x1 = min(canvas.width, math.ceil(max(p[0] for p in corners)))
    y1 = min(canvas.height, math.ceil(max(p[1] for p in corners)))
    if x1 <= x0 or y1 <= y0:
        return
    # inverse map for Pillow: region pixel (X, Y) → canvas (X + x0, Y + y0) → tile (u, v)
    ia, ib, ic, id_ = d / det, -c / det, -b / det, a / det
    ex, fy = e - x0, f - y0
    data = (ia, ib, -(ia * ex + ib * fy), ic, id_, -(ic * ex + id_ * fy))
    layer = tile.transform(
        (x1 - x0, y1 - y0), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR
    )
    canvas.alpha_composite(layer, (x0, y0))


def _draw_image(canvas: Image.Image, el: etree._Element, scale: float, image: Image.Image) -> None:
    """ImageObject: its CTM maps the unit square onto the picture's place in the object space."""
    tile = image.convert("RGBA")
    to_unit: Matrix = (1 / tile.width, 0, 0, 1 / tile.height, 0, 0)
    _composite(canvas, tile, _mul(to_unit, _object_matrix(el, scale)))


ImageLookup = Callable[[str], "Image.Image | None"]


def draw_content(
    canvas: Image.Image,
    root: etree._Element,
    scale: float,
    font_path: str | None,
    images: ImageLookup | None = None,
    budget: list[int] | None = None,
) -> None:
    """Draw the Path/Text/Image objects of one Content.xml (nested PageBlocks included), in document order."""
    budget = budget if budget is not None else [MAX_OBJECTS]
    for el in root.iter():
        name = local(el)
        if name not in ("PathObject", "TextObject", "ImageObject"):
            continue
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if name == "PathObject":
            _draw_path(canvas, el, scale)
        elif name == "TextObject":
            _draw_text(canvas, el, scale, font_path)
        elif images is not None:
            img = images(attr(el, "ResourceID"))
            if img is not None:
                _draw_image(canvas, el, scale, img)


def default_font() -> str | None:
    try:
        from formats.picture import cjk_font_path
    except ImportError:
        return None
    return cjk_font_path()


def render_ofd_picture(data: bytes, px_per_mm: float = PX_PER_MM) -> bytes:
    """PNG (transparent background) of the first page of a small OFD package. DOC_MALFORMED if unusable."""
    pkg = OfdPackage(data, PICTURE_LIMITS)
    doc = load_document(pkg)
    if not doc.pages or not doc.pages[0].content:
        raise SealBridgeError("DOC_MALFORMED", "the OFD seal picture has no page")
    page = doc.pages[0]
    if not (0 < page.width <= 1000 and 0 < page.height <= 1000):
        raise SealBridgeError("DOC_MALFORMED", f"OFD seal picture page of {page.width}×{page.height} mm")
    px_per_mm = min(px_per_mm, MAX_CANVAS_PX / max(page.width, page.height))
    w_px, h_px = max(1, round(page.width * px_per_mm)), max(1, round(page.height * px_per_mm))
    canvas = Image.new("RGBA", (w_px, h_px), (0, 0, 0, 0))
    draw_content(canvas, pkg.xml(page.content), px_per_mm, default_font())
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue()
