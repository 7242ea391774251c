"""Text positions on OFD pages, for keyword placement.

Each character gets a box in page millimetres: TextCode X/Y plus the running DeltaX/DeltaY advance, the
TextObject's CTM, then the TextObject Boundary's origin. Characters of every TextCode and TextObject of a
page (templates included) form one stream, so a keyword split across TextCode elements is still found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from formats.ofd.document import OfdDocument, Page
from formats.ofd.package import OfdPackage
from formats.ofd.xmlsafe import attr, local, parse_box

Box = tuple[float, float, float, float]  # x, y, w, h in mm, top-left origin
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class Glyph:
    char: str
    box: Box


@dataclass(frozen=True)
class TextHit:
    page: Page
    box: Box

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


def _floats(value: str) -> list[float]:
    out: list[float] = []
    for tok in value.replace(",", " ").split():
        try:
            out.append(float(tok))
        except ValueError:
            continue
    return out


def parse_deltas(value: str) -> list[float]:
    """DeltaX/DeltaY: numbers, where "g N V" stands for V repeated N times."""
    toks = value.replace(",", " ").split()
    out: list[float] = []
    i = 0
    while i < len(toks):
        if toks[i] == "g" and i + 2 < len(toks):
            try:
                n, v = int(float(toks[i + 1])), float(toks[i + 2])
            except ValueError:
                i += 3  # a damaged run is skipped, not fatal
                continue
            out.extend([v] * max(0, min(n, 100_000)))
            i += 3
            continue
        try:
            out.append(float(toks[i]))
        except ValueError:
            pass
        i += 1
    return out


def _ctm(value: str) -> tuple[float, float, float, float, float, float]:
    nums = _floats(value)
    return tuple(nums) if len(nums) == 6 else _IDENTITY  # type: ignore[return-value]


def _apply(m: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _text_object_glyphs(obj: etree._Element) -> Iterator[Glyph]:
    bound = parse_box(attr(obj, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
    m = _ctm(attr(obj, "CTM"))
    try:
        size = float(attr(obj, "Size", "3.5"))
    except ValueError:
        size = 3.5
    x0 = y0 = 0.0
    for code in obj:
        if local(code) != "TextCode":
            continue
        chars = code.text or ""
        # GB/T 33190 11.3: a TextCode without X (Y) takes the previous TextCode's X (Y).
        try:
            x0 = float(attr(code, "X")) if attr(code, "X") else x0
            y0 = float(attr(code, "Y")) if attr(code, "Y") else y0
        except ValueError:
            continue
        dxs = parse_deltas(attr(code, "DeltaX"))
        dys = parse_deltas(attr(code, "DeltaY"))
        cx, cy = x0, y0
        for i, ch in enumerate(chars):
            width = dxs[i] if i < len(dxs) else size  # the last glyph has no advance: assume a full em
            # Baseline at cy; the em box spans roughly 0.8 size above it and 0.2 below.
            corners = [
                _apply(m, cx, cy - 0.8 * size),
                _apply(m, cx + width, cy - 0.8 * size),
                _apply(m, cx, cy + 0.2 * size),
                _apply(m, cx + width, cy + 0.2 * size),
            ]
            xs = [p[0] for p in corners]
            ys = [p[1] for p in corners]
            yield Glyph(ch, (bound[0] + min(xs), bound[1] + min(ys), max(xs) - min(xs), max(ys) - min(ys)))
            cx += dxs[i] if i < len(dxs) else size
            cy += dys[i] if i < len(dys) else 0.0


def content_glyphs(root: etree._Element) -> Iterator[Glyph]:
    """Every glyph of a Content.xml (page or template), in document order, through nested PageBlocks."""
    for el in root.iter():
        if local(el) == "TextObject":
            yield from _text_object_glyphs(el)


def page_glyphs(pkg: OfdPackage, page: Page) -> list[Glyph]:
    parts: list[str] = [p for p, z in page.templates if z.lower() != "foreground"]
    if page.content:
        parts.append(page.content)
    parts += [p for p, z in page.templates if z.lower() == "foreground"]
    glyphs: list[Glyph] = []
    for path in parts:
        if pkg.exists(path):
            glyphs.extend(content_glyphs(pkg.xml(path)))
    return glyphs


def _union(boxes: list[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def find_text(pkg: OfdPackage, doc: OfdDocument, keyword: str) -> list[TextHit]:
    """Every occurrence of `keyword` in page order; whitespace is ignored on both sides."""
    needle = "".join(keyword.split())
    if not needle:
        return []
    hits: list[TextHit] = []
    for page in doc.pages:
        glyphs = [g for g in page_glyphs(pkg, page) if not g.char.isspace()]
        stream = "".join(g.char for g in glyphs)
        start = stream.find(needle)
        while start >= 0:
            hits.append(TextHit(page, _union([g.box for g in glyphs[start : start + len(needle)]])))
            start = stream.find(needle, start + len(needle))
    return hits
