"""Rendering helpers for PDF tests: pypdfium2 with form widgets drawn, red-pixel bookkeeping."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image, ImageChops

from stamping.pdf.geometry import PT_PER_MM

SCALE = 2.0  # pixels per point


def render_page(pdf: bytes, page_index: int, scale: float = SCALE) -> Image.Image:
    """The page as displayed (CropBox, /Rotate applied) with widget appearances (init_forms)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        doc.init_forms()
        page = doc[page_index]
        bitmap = page.render(scale=scale, may_draw_forms=True)
        return bitmap.to_pil().convert("RGB")
    finally:
        doc.close()


def red_mask(img: Image.Image) -> Image.Image:
    """Mode-L mask, 255 where the pixel is seal red (the test seals are red on white paper)."""
    r, g, b = img.split()
    mask = ImageChops.multiply(
        r.point(lambda v: 255 if v > 150 else 0), g.point(lambda v: 255 if v < 110 else 0)
    )
    return ImageChops.multiply(mask, b.point(lambda v: 255 if v < 110 else 0))


def count(
    mask: Image.Image, box: tuple[float, float, float, float] | None = None, margin: float = 2.0
) -> int:
    """Red pixels in the whole mask, or inside `box` (pixels, grown by `margin`)."""
    if box is not None:
        mask = mask.crop(
            (
                max(0, int(box[0] - margin)),
                max(0, int(box[1] - margin)),
                min(mask.width, int(box[2] + margin + 1)),
                min(mask.height, int(box[3] + margin + 1)),
            )
        )
    return mask.histogram()[255]


def box_px(
    box_mm: tuple[float, float, float, float], scale: float = SCALE
) -> tuple[float, float, float, float]:
    """Display box (left, top, width, height in mm) → pixel box (x0, y0, x1, y1)."""
    k = PT_PER_MM * scale
    left, top, w, h = box_mm
    return left * k, top * k, (left + w) * k, (top + h) * k


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
