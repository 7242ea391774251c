"""Preview pictures of PDF pages with the seal drawn where stamp() will put it (for the approval window).

Pages are rendered with pypdfium2 (no scripts, no form actions); the seal picture is drawn at the boxes the
PDF stamper will use (the same layout code), riding-seam strips included. Same result shape as the OFD
preview: {"images": [{"page", "width", "height", "png_base64"}], "page_count"}.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import Any

from formats.errors import SealBridgeError

MM_PER_INCH = 25.4
MAX_PREVIEW_PIXELS = 4000 * 4000


def render_pdf_preview(
    data: bytes, placements: list[Any], seal: Any, pages: list[int] | None, dpi: int
) -> dict:
    import pypdfium2 as pdfium

    from stamping.pdf.appearance import crop_image, load_seal_image
    from stamping.pdf.geometry import PageGeometry
    from stamping.pdf.keywords import find_keyword
    from stamping.pdf.layout import resolve

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise SealBridgeError("DOC_MALFORMED", f"PDF: {exc}") from None
    try:
        n = len(pdf)
        wanted = pages or [1]
        if any(p > n for p in wanted):
            raise SealBridgeError("PLACEMENT_INVALID", f"the document has {n} pages")
        geometries = []
        for i in range(n):
            page = pdf[i]
            geometries.append(
                PageGeometry.from_boxes(page.get_mediabox(), page.get_cropbox(), page.get_rotation())
            )
        pic = seal.picture
        spots = resolve(
            placements,
            geometries,
            float(pic.width_mm),
            float(pic.height_mm),
            lambda text: find_keyword(data, text),
        )
        image = load_seal_image(pic.type, pic.data)
        scale = dpi / 72.0
        px_per_mm = dpi / MM_PER_INCH
        images = []
        for page_no in wanted:
            page = pdf[page_no - 1]
            w_pt, h_pt = page.get_size()
            if w_pt * h_pt * scale * scale > MAX_PREVIEW_PIXELS:
                scale = (MAX_PREVIEW_PIXELS / (w_pt * h_pt)) ** 0.5
                px_per_mm = scale * 72.0 / MM_PER_INCH
            bitmap = page.render(scale=scale, may_draw_forms=False)
            canvas = bitmap.to_pil().convert("RGBA")
            for spot in spots:
                for widget in spot.widgets:
                    if widget.page_index != page_no - 1:
                        continue
                    left, top, w, h = widget.box_mm
                    piece = crop_image(image, dataclasses.replace(widget.crop, turn=0))
                    size = (max(1, round(w * px_per_mm)), max(1, round(h * px_per_mm)))
                    piece = piece.resize(size)
                    canvas.alpha_composite(piece, (round(left * px_per_mm), round(top * px_per_mm)))
            out = io.BytesIO()
            canvas.convert("RGB").save(out, "PNG", optimize=False)
            images.append(
                {
                    "page": page_no,
                    "width": canvas.width,
                    "height": canvas.height,
                    "png_base64": base64.b64encode(out.getvalue()).decode(),
                }
            )
        return {"images": images, "page_count": n}
    finally:
        pdf.close()
