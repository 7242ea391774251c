"""preview: PNG pictures of chosen pages with the seal drawn where the pending stamp will put it.

For the approval window (what you see is what you sign). PDF pages are rendered with pypdfium2 (no
scripts, no forms actions) and the seal picture is drawn at the boxes the PDF stamper will use (the same
layout code), riding-seam strips included. OFD pages come from stamping.ofd.preview (same result shape).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
from typing import TYPE_CHECKING, Any

from agent.server.protocol import Request
from formats.errors import SealBridgeError
from stamping.placement import from_dict

if TYPE_CHECKING:
    from agent.seal_store import SealEntry
    from agent.server.session import Session

MM_PER_INCH = 25.4
DEFAULT_DPI = 72
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


async def preview(session: Session, req: Request) -> dict[str, Any]:
    ctx = session.ctx
    approval = ctx.approvals.get(req.params["request_id"], session.id)
    index = req.params.get("index")
    data, fmt, raw_placements, seal_hint = approval.preview_target(index)
    render = render_pdf_preview if fmt == "pdf" else _ofd_renderer()
    approval.previews += 1
    if approval.previews > approval.max_previews:
        raise SealBridgeError("RATE_LIMITED", f"more than {approval.max_previews} previews for one request")
    seal_id = req.params.get("seal_id") or seal_hint
    entry: SealEntry
    if seal_id:
        entry = await ctx.find_seal(seal_id)
    else:
        seals = await ctx.seals()
        if not seals:
            raise SealBridgeError("TOKEN_ABSENT", "no seal to draw in the preview")
        entry = seals[0]
    placements = [from_dict(p) for p in raw_placements]
    pages = req.params.get("pages")
    if pages is None:
        pages = sorted({int(p["page"]) for p in raw_placements if p.get("type") == "at"}) or [1]
        pages = pages[:20]
    dpi = int(req.params.get("dpi", DEFAULT_DPI))
    result = await asyncio.to_thread(render, data, placements, entry.seal, pages, dpi)
    approval.mark_shown(index)
    return result


def _ofd_renderer() -> Any:
    try:
        from stamping.ofd.preview import render_ofd_preview
    except ImportError:
        raise SealBridgeError("DOC_UNSUPPORTED", "OFD previews are not available in this build") from None
    return render_ofd_preview
