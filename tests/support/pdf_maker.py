"""Test PDFs made with pikepdf: A4 pages with Chinese and Latin text, optional /Rotate and CropBox.

Chinese text uses the non-embedded Adobe-GB1 font STSong-Light with the UniGB-UCS2-H CMap: pdfium maps
it to Unicode for search and substitutes a system CJK font for drawing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

A4 = (595.276, 841.89)


@dataclass
class PageSpec:
    lines: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, text) in user space
    rotate: int = 0
    mediabox: tuple[float, float, float, float] = (0, 0, *A4)
    cropbox: tuple[float, float, float, float] | None = None


def _cjk_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    descendant = Dictionary(
        Type=Name.Font,
        Subtype=Name.CIDFontType0,
        BaseFont=Name("/STSong-Light"),
        CIDSystemInfo=Dictionary(
            Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("GB1"), Supplement=2
        ),
        FontDescriptor=Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/STSong-Light"),
            Flags=6,
            FontBBox=Array([0, -200, 1000, 900]),
            ItalicAngle=0,
            Ascent=880,
            Descent=-120,
            CapHeight=880,
            StemV=93,
        ),
    )
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type0,
            BaseFont=Name("/STSong-Light"),
            Encoding=Name("/UniGB-UCS2-H"),
            DescendantFonts=Array([descendant]),
        )
    )


def _show(text: str) -> str:
    if text.isascii():
        return "/F2 12 Tf (" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj"
    return "/F1 14 Tf <" + text.encode("utf-16-be").hex() + "> Tj"


def make_pdf(pages: list[PageSpec], filler_bytes: int = 0) -> bytes:
    """A PDF with the given pages. `filler_bytes` adds an incompressible stream (for size tests)."""
    pdf = pikepdf.new()
    cjk = _cjk_font(pdf)
    helv = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    for spec in pages:
        ops = [f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm {_show(t)} ET" for x, y, t in spec.lines]
        page = pdf.add_blank_page(page_size=A4)
        page.MediaBox = Array(list(spec.mediabox))
        if spec.cropbox:
            page.CropBox = Array(list(spec.cropbox))
        if spec.rotate:
            page.Rotate = spec.rotate
        page.Resources = Dictionary(Font=Dictionary(F1=cjk, F2=helv))
        page.Contents = pdf.make_stream("\n".join(ops).encode("ascii"))
    if filler_bytes:
        import os

        blob = pdf.make_stream(os.urandom(filler_bytes))
        pdf.Root.SealBridgeFiller = blob  # referenced from the catalog so it stays in the file
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def contract_pdf(n_pages: int = 3) -> bytes:
    """A plain A4 contract: a title, some text, and "盖章处" on the last page."""
    pages = [
        PageSpec(lines=[(72, 780, f"Contract page {i + 1}"), (72, 740, "甲方：示例科技有限公司")])
        for i in range(n_pages)
    ]
    pages[-1].lines.append((300, 200, "盖章处："))
    return make_pdf(pages)


def append_page(pdf: bytes) -> bytes:
    """An incremental update adding a page: a change after signing that no seal allows."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import PageObject

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = PageObject(
        contents=writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 700 Td (added) Tj ET")),
        media_box=generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
