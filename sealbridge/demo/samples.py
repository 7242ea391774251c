"""The demo's sample documents: a three-page government application form (政务服务事项申请表) as PDF and OFD.

Page 1 carries the keyword "盖章处" (where the applicant's official seal goes), page 3 the legal
representative's signature line; all pages are A4 so a riding seam (骑缝章) spans them. Both files are made
from one layout (millimetres, origin top-left as in OFD) so the demo stamps the "same" form in both formats.

PDF: Chinese text in the standard Adobe-GB1 font STSong-Light (UniGB-UCS2-H), not embedded — every PDF viewer
and pdfium substitute a CJK font for it and map it to Unicode, which keeps the sample tiny.
OFD: a minimal GB/T 33190 package (OFD.xml, Document.xml, PublicRes.xml with one font, a Content.xml per page).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pikepdf
from pikepdf import Array, Dictionary, Name

A4_MM = (210.0, 297.0)
PT_PER_MM = 72 / 25.4
KEYWORD = "盖章处"


@dataclass(frozen=True)
class Text:
    x: float  # mm from the left edge
    y: float  # mm from the top edge, at the baseline
    size: float  # mm (em size)
    text: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass
class PageLayout:
    texts: list[Text]
    lines: list[Line]


def form_layout(company: str, uscc: str) -> list[PageLayout]:
    """The three pages of the sample form (the same for PDF and OFD)."""
    rows = [
        ("申请单位", company),
        ("统一社会信用代码", uscc),
        ("申请事项", "企业电子印章备案及启用"),
        ("联系人", "王晓明  0527-8888 0000"),
        ("申请日期", "2026年11月26日"),
    ]
    p1 = PageLayout(
        texts=[
            Text(62, 30, 7, "政务服务事项申请表"),
            Text(72, 40, 3.5, "Government service application (demo)"),
        ],
        lines=[],
    )
    top = 55.0
    for i, (label, value) in enumerate(rows):
        y = top + i * 14
        p1.texts.append(Text(25, y + 9, 4.5, label))
        p1.texts.append(Text(75, y + 9, 4.5, value))
        p1.lines.append(Line(20, y, 190, y))
    bottom = top + len(rows) * 14
    p1.lines += [Line(20, bottom, 190, bottom), Line(20, top, 20, bottom), Line(190, top, 190, bottom)]
    p1.lines.append(Line(70, top, 70, bottom))
    p1.texts += [
        Text(25, 150, 4.5, "申请单位承诺：所填信息真实、准确、完整。"),
        Text(25, 160, 4.5, "The applicant declares the information true and complete."),
        Text(120, 205, 5, f"申请单位{KEYWORD}："),
        Text(120, 250, 4.5, "年    月    日"),
    ]
    p2 = PageLayout(
        texts=[
            Text(25, 30, 6, "二、申请材料清单"),
            Text(25, 50, 4.5, "1. 营业执照（副本）复印件"),
            Text(25, 62, 4.5, "2. 法定代表人身份证明"),
            Text(25, 74, 4.5, "3. 实物印章印模（同章同模）"),
            Text(25, 86, 4.5, "4. 数字证书申请表"),
            Text(25, 110, 4, "List of supporting documents - page 2 of 3."),
        ],
        lines=[Line(20, 36, 190, 36)],
    )
    p3 = PageLayout(
        texts=[
            Text(25, 30, 6, "三、受理意见"),
            Text(25, 50, 4.5, "经办人：__________        受理日期：__________"),
            Text(25, 200, 4.5, "法定代表人（签章）："),
            Text(25, 110, 4, "Acceptance - page 3 of 3."),
        ],
        lines=[Line(20, 36, 190, 36), Line(20, 230, 190, 230)],
    )
    return [p1, p2, p3]


# -------------------------------------------------------------------------------------------------- PDF


def _cjk_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    cid = Dictionary(
        Type=Name.Font,
        Subtype=Name.CIDFontType0,
        BaseFont=Name("/STSong-Light"),
        CIDSystemInfo=Dictionary(
            Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("GB1"), Supplement=4
        ),
        FontDescriptor=Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/STSong-Light"),
            Flags=6,
            FontBBox=Array([-25, -254, 1000, 880]),
            ItalicAngle=0,
            Ascent=880,
            Descent=-120,
            CapHeight=880,
            StemV=93,
        ),
        DW=1000,
        # CIDs 1-95 are Adobe-GB1's proportional Latin (U+0020-007E through UniGB-UCS2-H): half an em each,
        # so digits and letters inside Chinese lines are not spread out full-width.
        W=Array([1, 95, 500]),
    )
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type0,
            BaseFont=Name("/STSong-Light"),
            Encoding=Name("/UniGB-UCS2-H"),
            DescendantFonts=Array([cid]),
        )
    )


def _pdf_text(t: Text) -> str:
    x, y = t.x * PT_PER_MM, (A4_MM[1] - t.y) * PT_PER_MM
    size = t.size * PT_PER_MM
    if t.text.isascii():
        safe = t.text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"BT /F2 {size:.2f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm ({safe}) Tj ET"
    return f"BT /F1 {size:.2f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm <{t.text.encode('utf-16-be').hex()}> Tj ET"


def make_pdf(company: str, uscc: str) -> bytes:
    pdf = pikepdf.new()
    pdf.docinfo["/Title"] = "政务服务事项申请表 (SealBridge demo)"
    pdf.docinfo["/Producer"] = "SealBridge demo"
    cjk = _cjk_font(pdf)
    helvetica = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica))
    w_pt, h_pt = A4_MM[0] * PT_PER_MM, A4_MM[1] * PT_PER_MM
    for layout in form_layout(company, uscc):
        ops = ["0 0 0 rg 0 0 0 RG 0.6 w"]
        for ln in layout.lines:
            ops.append(
                f"{ln.x1 * PT_PER_MM:.2f} {(A4_MM[1] - ln.y1) * PT_PER_MM:.2f} m "
                f"{ln.x2 * PT_PER_MM:.2f} {(A4_MM[1] - ln.y2) * PT_PER_MM:.2f} l S"
            )
        ops += [_pdf_text(t) for t in layout.texts]
        page = pdf.add_blank_page(page_size=(w_pt, h_pt))
        page.Resources = Dictionary(Font=Dictionary(F1=cjk, F2=helvetica))
        page.Contents = pdf.make_stream("\n".join(ops).encode("ascii"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------------------------------- OFD

_NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'
_XML = '<?xml version="1.0" encoding="UTF-8"?>'


def _ofd_text(oid: int, t: Text) -> str:
    n = len(t.text)
    # Full-width advance for CJK, roughly half for ASCII; the box is generous so viewers never clip.
    advance = t.size if not t.text.isascii() else t.size * 0.55
    width = advance * n + t.size
    box = f"{t.x:g} {t.y - t.size:g} {width:.2f} {t.size * 1.5:g}"
    delta = f' DeltaX="g {n - 1} {advance:.3f}"' if n > 1 else ""
    return (
        f'<ofd:TextObject ID="{oid}" Boundary="{box}" Font="2" Size="{t.size:g}">'
        f'<ofd:TextCode X="0" Y="{t.size:g}"{delta}>{escape(t.text)}</ofd:TextCode></ofd:TextObject>'
    )


def _ofd_line(oid: int, ln: Line) -> str:
    x0, y0 = min(ln.x1, ln.x2), min(ln.y1, ln.y2)
    w, h = abs(ln.x2 - ln.x1) or 0.5, abs(ln.y2 - ln.y1) or 0.5
    path = f"M {ln.x1 - x0:g} {ln.y1 - y0:g} L {ln.x2 - x0:g} {ln.y2 - y0:g}"
    return (
        f'<ofd:PathObject ID="{oid}" Boundary="{x0:g} {y0:g} {w:g} {h:g}" LineWidth="0.25" Stroke="true" '
        f'Fill="false"><ofd:AbbreviatedData>{path}</ofd:AbbreviatedData></ofd:PathObject>'
    )


def make_ofd(company: str, uscc: str) -> bytes:
    pages = form_layout(company, uscc)
    next_id = 10
    contents: list[str] = []
    page_refs: list[str] = []
    for i, layout in enumerate(pages):
        page_id, layer_id = next_id, next_id + 1
        next_id += 2
        objects: list[str] = []
        for ln in layout.lines:
            objects.append(_ofd_line(next_id, ln))
            next_id += 1
        for t in layout.texts:
            objects.append(_ofd_text(next_id, t))
            next_id += 1
        page_refs.append(f'<ofd:Page ID="{page_id}" BaseLoc="Pages/Page_{i}/Content.xml"/>')
        contents.append(
            f'{_XML}<ofd:Page {_NS}><ofd:Content><ofd:Layer ID="{layer_id}">{"".join(objects)}'
            "</ofd:Layer></ofd:Content></ofd:Page>"
        )
    w, h = A4_MM
    files = {
        "OFD.xml": f'{_XML}<ofd:OFD {_NS} Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        "<ofd:DocID>5ea1b41d6e6d4c6f9f0d2c1a3b4c5d6e</ofd:DocID><ofd:Title>政务服务事项申请表</ofd:Title>"
        "<ofd:Creator>SealBridge demo</ofd:Creator></ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        "Doc_0/Document.xml": f"{_XML}<ofd:Document {_NS}><ofd:CommonData>"
        f"<ofd:MaxUnitID>{next_id}</ofd:MaxUnitID>"
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 {w:g} {h:g}</ofd:PhysicalBox></ofd:PageArea>"
        "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
        f"<ofd:Pages>{''.join(page_refs)}</ofd:Pages></ofd:Document>",
        "Doc_0/PublicRes.xml": f'{_XML}<ofd:Res {_NS} BaseLoc="Res"><ofd:Fonts>'
        '<ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>',
    }
    for i, xml in enumerate(contents):
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = xml
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text.encode("utf-8"))
    return buf.getvalue()
