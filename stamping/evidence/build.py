"""The evidence report: a PDF made from a verification report (Art. 28), no browser printing.

Cover: headline verdict, validation time, the document (name, size, SM3, SHA-256), the trust anchors, the
platform consulted and when it answered, and who vouches for the report (made locally: "not sealed by the
platform"; made by the platform's verification service: sealed by it, see central/evidence.py). Then per seal:
the picture, signer, seal data, time source and every check (Chinese with English beside it). Then each page
that carries a seal, rendered, with the seal's place outlined. The full JSON report is attached as
`report.json` (an embedded file), byte for byte the JSON given; the cover's facts as `evidence.json`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pikepdf
from asn1crypto import x509

from formats.gm import sm3
from stamping.evidence.labels import CHECKS, STATUS, TIME_SOURCES, VERDICTS, beijing, pair
from stamping.evidence.pages import PagePicture, sealed_pages
from stamping.report import CHECK_NAMES, Report, SealReport

ATTACHMENT = "report.json"
FACTS = "evidence.json"
FONT = "SealBridgeCJK"
NOT_SEALED = "本报告由本机生成，未经平台签章 / Generated locally — not sealed by the platform"


@dataclass
class EvidenceInput:
    document_name: str
    data: bytes
    report: Report
    report_json: bytes  # attached as it is: the same bytes `verify --json` prints
    validated_at: datetime
    trust_anchors: list[bytes] = field(default_factory=list)
    platform_url: str | None = None
    platform_answered_at: str | None = None
    sealed_by: str | None = None  # who signs this evidence; None: made locally


def document_facts(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sm3": sm3(data).hex(), "sha256": hashlib.sha256(data).hexdigest()}


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    from formats.picture import cjk_font_path

    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    path = cjk_font_path()
    if path:
        try:
            pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
            return FONT
        except Exception:  # noqa: BLE001 - a font reportlab cannot embed: fall back to the reader's CJK font
            pass
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _anchor_name(der: bytes) -> str:
    try:
        cert = x509.Certificate.load(der)
        return f"{cert.subject.human_friendly} (SHA-256 {hashlib.sha256(der).hexdigest()[:16]}…)"
    except ValueError:
        return f"(unreadable certificate, SHA-256 {hashlib.sha256(der).hexdigest()[:16]}…)"


class _Styles:
    def __init__(self, font: str) -> None:
        from reportlab.lib.styles import ParagraphStyle

        self.title = ParagraphStyle("t", fontName=font, fontSize=18, leading=24, spaceAfter=8)
        self.h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4)
        self.body = ParagraphStyle("b", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
        self.small = ParagraphStyle("s", fontName=font, fontSize=7.5, leading=10, wordWrap="CJK")
        self.verdict = ParagraphStyle("v", fontName=font, fontSize=16, leading=22, spaceAfter=6)


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows: list[list[Any]], widths: list[float]) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths)
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.95, 0.95, 0.95)),
            ]
        )
    )
    return t


def _cover(inp: EvidenceInput, st: _Styles) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    P = Paragraph  # noqa: N806 - reportlab's name
    facts = document_facts(inp.data)
    report = inp.report
    sealed = f"由 {inp.sealed_by} 签章 / Sealed by {inp.sealed_by}" if inp.sealed_by else NOT_SEALED
    platform = (
        f"{_esc(inp.platform_url)}；应答时间 / answered {beijing(inp.platform_answered_at)}"
        if inp.platform_url
        else "未查询平台 / no platform consulted"
    )
    anchors = "<br/>".join(_esc(_anchor_name(a)) for a in inp.trust_anchors) or "无 / none"
    rows = [
        [P("文档 / Document", st.body), P(_esc(inp.document_name), st.body)],
        [P("格式 / Format", st.body), P(report.format.upper(), st.body)],
        [P("大小 / Size", st.body), P(f"{facts['size']} 字节 / bytes", st.body)],
        [P("SM3", st.body), P(facts["sm3"], st.small)],
        [P("SHA-256", st.body), P(facts["sha256"], st.small)],
        [P("验证时间 / Validated at", st.body), P(beijing(inp.validated_at), st.body)],
        [P("信任锚 / Trust anchors", st.body), P(anchors, st.small)],
        [P("平台 / Platform", st.body), P(platform, st.body)],
        [P("印章数 / Seals", st.body), P(str(len(report.seals)), st.body)],
        [P("出具方 / Issued by", st.body), P(_esc(sealed), st.body)],
    ]
    return [
        P("电子印章验证报告<br/>Electronic Seal Verification Report", st.title),
        P(f"结论 / Verdict: <b>{pair(VERDICTS, report.verdict)}</b>", st.verdict),
        _table(rows, [42 * mm, 128 * mm]),
        Spacer(1, 6 * mm),
        P(
            "本报告附有完整的 JSON 验证结果（附件 report.json）。"
            " The full JSON verification report is attached (report.json).",
            st.small,
        ),
    ]


def _seal_section(seal: SealReport, index: int, st: _Styles) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, Spacer

    P = Paragraph  # noqa: N806 - reportlab's name
    out: list[Any] = [
        P(f"印章 {index} / Seal {index}: {_esc(seal.id)} — {pair(VERDICTS, seal.verdict)}", st.h2)
    ]
    if seal.seal and seal.seal.picture_png_base64:
        png = base64.b64decode(seal.seal.picture_png_base64)
        w = min(40.0, float(seal.seal.picture_width_mm or 40.0))
        h = w * float(seal.seal.picture_height_mm or w) / float(seal.seal.picture_width_mm or w)
        out += [Image(io.BytesIO(png), width=w * mm, height=h * mm), Spacer(1, 2 * mm)]
    source = seal.extra.get("signing_time_source")
    rows = [
        [
            P("印章 / Seal", st.body),
            P(_esc(f"{seal.seal.name} ({seal.seal.esID})") if seal.seal else "—", st.body),
        ],
        [
            P("签章人 / Signer", st.body),
            P(_esc(_person(seal.signer.subject)) if seal.signer else "—", st.body),
        ],
        [P("证书主体 / Subject", st.body), P(_esc(seal.signer.subject) if seal.signer else "—", st.small)],
        [P("证书序列号 / Serial", st.body), P(_esc(seal.signer.serial) if seal.signer else "—", st.small)],
        [P("签章时间 / Signed at", st.body), P(beijing(seal.signed_at), st.body)],
        [P("时间来源 / Time source", st.body), P(pair(TIME_SOURCES, source) if source else "—", st.body)],
    ]
    warning = seal.extra.get("time_warning")
    if warning:
        claimed = seal.extra.get("claimed_time_after_timestamp")
        zh = f"签章人声明的时间 {beijing(claimed)} 晚于时间戳时间 {beijing(seal.signed_at)}"
        rows.append([P("时间警示 / Time warning", st.body), P(f"{_esc(zh)}<br/>{_esc(warning)}", st.small)])
    out.append(_table(rows, [42 * mm, 128 * mm]))
    out.append(Spacer(1, 3 * mm))
    checks = [[P("检查项 / Check", st.body), P("结果 / Result", st.body), P("说明 / Detail", st.body)]]
    for name in CHECK_NAMES:
        check = seal.checks[name]
        checks.append(
            [
                P(pair(CHECKS, name), st.body),
                P(pair(STATUS, check.status), st.body),
                # Chinese first, then English: the reader of an evidence report reads Chinese.
                P(f"{_esc(check.text('zh'))}<br/>{_esc(check.text('en'))}", st.small),
            ]
        )
    out.append(_table(checks, [46 * mm, 36 * mm, 88 * mm]))
    return out


def _person(subject: str) -> str:
    """The common name of a subject as asn1crypto's human_friendly writes it ("Common Name: …, …")."""
    for part in subject.split(", "):
        if part.startswith("Common Name: "):
            return part.removeprefix("Common Name: ")
    return subject


def _page_section(picture: PagePicture, st: _Styles) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph

    buf = io.BytesIO()
    picture.image.save(buf, "JPEG", quality=85)  # embedded as is (DCT): far faster and smaller than PNG
    buf.seek(0)
    max_w, max_h = 170 * mm, 225 * mm
    ratio = min(max_w / picture.image.width, max_h / picture.image.height)
    seals = ", ".join(picture.seals)
    return [
        Paragraph(
            f"第 {picture.page} 页（红框为印章位置：{_esc(seals)}）/ Page {picture.page}, seal places outlined",
            st.h2,
        ),
        Image(buf, width=picture.image.width * ratio, height=picture.image.height * ratio),
    ]


def build_evidence(inp: EvidenceInput) -> bytes:
    """The evidence PDF (unsigned); central/evidence.py signs it when the platform issues it."""
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    rl_config.useA85 = 0  # binary streams: reportlab's ASCII85 encoder is pure Python and slow on page images
    font = _register_font()
    st = _Styles(font)
    story: list[Any] = _cover(inp, st)
    for i, seal in enumerate(inp.report.seals, start=1):
        story += [PageBreak(), *_seal_section(seal, i, st)]
    for picture in sealed_pages(inp.data, inp.report):
        story += [PageBreak(), *_page_section(picture, st)]

    short_sm3 = sm3(inp.data).hex()[:16]  # once, not once a page

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(20 * mm, 10 * mm, f"{inp.document_name} · SM3 {short_sm3}… · {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="电子印章验证报告 / Electronic Seal Verification Report",
        author=inp.sealed_by or "SealBridge (local)",
        invariant=True,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    facts = json.dumps(cover_facts(inp), ensure_ascii=False).encode("utf-8")
    return _attach(buf.getvalue(), inp.report_json, facts)


def cover_facts(inp: EvidenceInput) -> dict[str, Any]:
    """What the cover states, machine-readable (attached as evidence.json; `evidence check` compares it with
    the printed pages and the original document)."""
    return {
        "document": {"name": inp.document_name, **document_facts(inp.data)},
        "verdict": inp.report.verdict,
        "validated_at": inp.validated_at.isoformat(),
        "platform": inp.platform_url,
        "sealed_by": inp.sealed_by,
        "seals": [
            {"id": s.id, "verdict": s.verdict, "esID": s.seal.esID if s.seal else None}
            for s in inp.report.seals
        ],
    }


def _attach(pdf_bytes: bytes, report_json: bytes, facts_json: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for name, content, what in (
            (ATTACHMENT, report_json, "SealBridge verification report (JSON)"),
            (FACTS, facts_json, "What the cover states (JSON)"),
        ):
            pdf.attachments[name] = pikepdf.AttachedFileSpec(
                pdf, content, description=what, mime_type="application/json"
            )
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
        return out.getvalue()


def attached_report(evidence: bytes, name: str = "report.json") -> bytes | None:
    """An attachment of an evidence PDF (report.json by default), or None."""
    with pikepdf.open(io.BytesIO(evidence)) as pdf:
        spec = pdf.attachments.get(name)
        return None if spec is None else spec.get_file().read_bytes()
