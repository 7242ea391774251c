"""Preview pictures of OFD pages with the seal drawn where stamp() will put it (for the approval window).

Same shape as the PDF preview: {"images": [{"page", "width", "height", "png_base64"}], "page_count"}.
The placement boxes come from the stamper's own resolver, riding-seam strips included (Clip applied).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, load_document
from formats.ofd.pagerender import media_map, render_page
from stamping.ofd.placement import resolve_placements
from stamping.placement import Placement
from stamping.sealview import picture_png

MM_PER_INCH = 25.4
MAX_PREVIEW_PAGES = 20


def _seal_image(seal: Any) -> Image.Image:
    png = picture_png(seal.picture.type, seal.picture.data)
    if png is None:
        # A seal without a showable picture still gets a visible outline where it will go.
        img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
        from PIL import ImageDraw

        ImageDraw.Draw(img).ellipse((4, 4, 196, 196), outline=(220, 0, 0, 255), width=6)
        return img
    return Image.open(io.BytesIO(png)).convert("RGBA")


def render_ofd_preview(
    data: bytes, placements: list[Placement], seal: Any, pages: list[int] | None, dpi: int = 72
) -> dict[str, Any]:
    """`seal` is a formats.ses Seal (its picture and size in mm); `pages` are 1-based."""
    pkg = OfdPackage(data)
    doc = load_document(pkg)
    wanted = (pages or [1])[:MAX_PREVIEW_PAGES]
    if any(not 1 <= p <= len(doc.pages) for p in wanted):
        raise SealBridgeError("PLACEMENT_INVALID", f"the document has {len(doc.pages)} pages")
    w_mm, h_mm = float(seal.picture.width_mm), float(seal.picture.height_mm)
    annots = resolve_placements(pkg, doc, placements, w_mm, h_mm)
    seal_img = _seal_image(seal)
    px_per_mm = max(10, min(dpi, 300)) / MM_PER_INCH
    media = media_map(pkg, doc)
    images = []
    for number in wanted:
        page = doc.pages[number - 1]
        canvas = render_page(pkg, doc, page, px_per_mm, media)
        scale = canvas.width / page.width  # may be below px_per_mm for huge pages
        for annot in annots:
            if annot.page.index != page.index:
                continue
            x, y, w, h = annot.boundary
            whole = seal_img.resize((max(1, round(w * scale)), max(1, round(h * scale))))
            if annot.clip is not None:
                cx, cy, cw, ch = annot.clip
                box = (
                    round(cx * scale),
                    round(cy * scale),
                    round((cx + cw) * scale),
                    round((cy + ch) * scale),
                )
                piece, dx, dy = whole.crop(box), cx, cy
            else:
                piece, dx, dy = whole, 0.0, 0.0
            layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
            layer.paste(piece, (round((x + dx) * scale), round((y + dy) * scale)))
            canvas.alpha_composite(layer)
        out = io.BytesIO()
        canvas.convert("RGB").save(out, "PNG")
        images.append(
            {
                "page": number,
                "width": canvas.width,
                "height": canvas.height,
                "png_base64": base64.b64encode(out.getvalue()).decode("ascii"),
            }
        )
    return {"images": images, "page_count": len(doc.pages)}
