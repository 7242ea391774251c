"""Pictures of the pages that carry a seal, each seal's place outlined in red (for the evidence report).

PDF: widgets of every signature field (pikepdf), pages rendered by pypdfium2 with the same display geometry
the stamper uses (CropBox, /Rotate). OFD: the StampAnnot boundaries the verifier already reported
(`extra.stamp_annots`), pages rendered by formats.ofd.pagerender. Places are display boxes in mm from the
page's top-left corner; seal ids are the report's (PDF field name, OFD Sign_k folder).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from PIL import Image, ImageDraw

from formats.errors import SealBridgeError
from stamping.pdf.pikepdf_text import object_text
from stamping.report import Report

MM_PER_INCH = 25.4
MAX_PAGE_PIXELS = 2_500_000  # an A4 page at ~150 dpi; larger pages are scaled down
MAX_PAGES = 200  # pages rendered into one evidence report
OUTLINE = (220, 0, 0, 255)


@dataclass
class PagePicture:
    page: int  # 1-based
    image: Image.Image  # RGB
    seals: list[str] = field(default_factory=list)  # seal ids outlined on it


def _rect(annot: Any) -> tuple[float, float, float, float] | None:
    rect = annot.get("/Rect")
    try:
        x0, y0, x1, y1 = (float(v) for v in rect)
    except (TypeError, ValueError):
        return None
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _pdf_widgets(data: bytes) -> dict[int, list[tuple[str, tuple[float, float, float, float]]]]:
    """0-based page → [(field name, user-space Rect)] of signature widgets, from the AcroForm fields (a
    field's widgets are its /Kids, or the field itself when merged; pyHanko's kids carry no /Parent)."""
    out: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        page_of: dict[tuple[int, int], int] = {}
        for index, page in enumerate(pdf.pages):
            for annot in page.obj.get("/Annots") or []:
                if annot.is_indirect:
                    page_of[annot.objgen] = index
        acroform = pdf.Root.get("/AcroForm")
        stack = [(f, "", None, 0) for f in (acroform.get("/Fields") or [])] if acroform is not None else []
        while stack:
            node, prefix, ft, depth = stack.pop()
            if not isinstance(node, pikepdf.Dictionary) or depth > 32:
                continue
            ft = node.get("/FT", ft)
            part = object_text(node.get("/T")) if node.get("/T") is not None else ""
            name = f"{prefix}.{part}" if prefix and part else (part or prefix)
            kids = node.get("/Kids")
            if kids is not None and any(isinstance(k, pikepdf.Dictionary) and "/T" in k for k in kids):
                stack += [(k, name, ft, depth + 1) for k in kids]
                continue
            if ft != "/Sig":
                continue
            for widget in list(kids) if kids is not None else [node]:
                rect = _rect(widget)
                index = page_of.get(widget.objgen) if widget.is_indirect else None
                if rect is not None and index is not None:
                    out.setdefault(index, []).append((name, rect))
    return out


def _outline(img: Image.Image, boxes_px: list[tuple[float, float, float, float]]) -> None:
    draw = ImageDraw.Draw(img)
    width = max(2, round(img.width / 300))
    for left, top, w, h in boxes_px:
        draw.rectangle((left, top, left + w, top + h), outline=OUTLINE, width=width)


def _paste_picture(img: Image.Image, png_base64: str | None, box_px: list[float]) -> None:
    if not png_base64:
        return
    left, top, w, h = box_px
    if w < 1 or h < 1:
        return
    try:
        pic = Image.open(io.BytesIO(base64.b64decode(png_base64))).convert("RGBA")
    except (OSError, ValueError):
        return
    pic = pic.resize((max(1, round(w)), max(1, round(h))))
    img.paste(pic, (round(left), round(top)), pic)


def pdf_pages(data: bytes, report: Report) -> list[PagePicture]:
    import pypdfium2 as pdfium

    from stamping.pdf.geometry import PageGeometry, UserRect

    ids = {s.id for s in report.seals}
    widgets = {page: [(n, r) for n, r in found if n in ids] for page, found in _pdf_widgets(data).items()}
    widgets = {p: w for p, w in widgets.items() if w}
    pictures: list[PagePicture] = []
    try:
        pdf = pdfium.PdfDocument(data)
        pdf.init_forms()  # so the seals' widget appearances are drawn
    except pdfium.PdfiumError as exc:
        raise SealBridgeError("DOC_MALFORMED", f"PDF: {exc}") from None
    try:
        for index in sorted(widgets)[:MAX_PAGES]:
            page = pdf[index]
            geom = PageGeometry.from_boxes(page.get_mediabox(), page.get_cropbox(), page.get_rotation())
            w_pt, h_pt = page.get_size()
            scale = min(150 / 72, (MAX_PAGE_PIXELS / max(1.0, w_pt * h_pt)) ** 0.5)
            img = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
            px_per_mm = scale * 72 / MM_PER_INCH
            boxes = [geom.user_to_box(UserRect(*rect)) for _, rect in widgets[index]]
            _outline(img, [tuple(v * px_per_mm for v in b) for b in boxes])  # type: ignore[misc]
            pictures.append(PagePicture(index + 1, img, sorted({n for n, _ in widgets[index]})))
    finally:
        pdf.close()
    return pictures


def ofd_pages(data: bytes, report: Report) -> list[PagePicture]:
    from formats.ofd import OfdPackage, load_document
    from formats.ofd.pagerender import media_map, render_page

    pkg = OfdPackage(data)
    doc = load_document(pkg)
    by_id = {p.id: p for p in doc.pages}
    boxes: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
    for seal in report.seals:
        for annot in seal.extra.get("stamp_annots") or []:
            page = by_id.get(str(annot.get("page_ref")))
            box = annot.get("boundary")
            if page is not None and box:
                boxes.setdefault(page.index, []).append((seal.id, tuple(box)))  # type: ignore[arg-type]
    media = media_map(pkg, doc)
    # The page renderer draws page content only; the seal picture goes on top, where the StampAnnot puts it.
    pictures_by_id = {
        s.id: s.seal.picture_png_base64 for s in report.seals if s.seal and s.seal.picture_png_base64
    }
    pictures: list[PagePicture] = []
    for index in sorted(boxes)[:MAX_PAGES]:
        page = doc.pages[index]
        px_per_mm = min(150 / MM_PER_INCH, (MAX_PAGE_PIXELS / max(1.0, page.width * page.height)) ** 0.5)
        img = render_page(pkg, doc, page, px_per_mm, media).convert("RGB")
        scale = img.width / page.width  # render_page may have reduced a huge page
        for seal_id, box in boxes[index]:
            _paste_picture(img, pictures_by_id.get(seal_id), [v * scale for v in box])
        _outline(img, [tuple(v * scale for v in b) for _, b in boxes[index]])  # type: ignore[misc]
        pictures.append(PagePicture(index + 1, img, sorted({n for n, _ in boxes[index]})))
    return pictures


def sealed_pages(data: bytes, report: Report) -> list[PagePicture]:
    return pdf_pages(data, report) if report.format == "pdf" else ofd_pages(data, report)
