"""`sealbridge evidence check`: is this evidence report what the platform issued, and about this document?

1. seal: the PDF carries one signature that covers the whole file, made with a certificate that chains to
   the given anchors (the platform's roots), with a verified signature time-stamp. Evidence made locally has
   no such signature and fails here (it says so on its cover).
2. attachments: report.json and evidence.json are present and agree (verdicts, seals).
3. pages: the facts of evidence.json (hashes, verdicts, esIDs) are what the pages print.
4. document (with the original): its size, SM3 and SHA-256 are the ones the evidence names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stamping.evidence.build import ATTACHMENT, FACTS, attached_report, document_facts
from stamping.evidence.labels import VERDICTS, pair
from stamping.messages import beijing_time, enum_text
from stamping.options import VerifyOptions


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str  # English
    detail_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "detail_zh": self.detail_zh}


def _seal(pdf: bytes, anchors: list[bytes]) -> Finding:
    from stamping.pdf import verify

    report = verify(pdf, VerifyOptions(trust_anchors=anchors))
    if not report.seals:
        return Finding(
            "seal",
            False,
            "no platform signature: made locally, not sealed by the platform",
            "没有平台签章：此报告在本地生成，未经平台盖章",
        )
    if len(report.seals) != 1:
        n = len(report.seals)
        return Finding(
            "seal",
            False,
            f"{n} signatures; platform evidence carries exactly one",
            f"含 {n} 个签名；平台出具的报告只有一个",
        )
    sig = report.seals[0]
    needed = ("integrity", "signature", "certificate", "changes_after", "timestamp")
    bad = [n for n in needed if sig.checks[n].status != "ok"]
    if bad:
        return Finding(
            "seal",
            False,
            "; ".join(f"{n}: {sig.checks[n].status} ({sig.checks[n].text('en')})" for n in bad),
            "；".join(
                f"{enum_text('check', n, 'zh')}：{enum_text('status', sig.checks[n].status, 'zh')}"
                f"（{sig.checks[n].text('zh')}）"
                for n in bad
            ),
        )
    who = (sig.signer.name or sig.signer.subject) if sig.signer else "?"
    return Finding(
        "seal",
        True,
        f"signed by {who}, time-stamped {beijing_time(sig.signed_at)}",
        f"由 {who} 签署，时间戳时间 {beijing_time(sig.signed_at)}",
    )


def _page_text(pdf: bytes) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        parts = []
        for page in doc:
            text = page.get_textpage()
            parts.append(text.get_text_range())
            text.close()
            page.close()
        return "".join("".join(parts).split())
    finally:
        doc.close()


def _pages(pdf: bytes, facts: dict[str, Any]) -> Finding:
    text = _page_text(pdf)
    wanted = [facts["document"]["sha256"], facts["document"]["sm3"], pair(VERDICTS, facts["verdict"])]
    for seal in facts["seals"]:
        wanted += [s for s in (seal.get("esID"), seal["id"], pair(VERDICTS, seal["verdict"])) if s]
    missing = [w for w in wanted if "".join(str(w).split()) not in text]
    if missing:
        listed = ", ".join(map(str, missing))
        return Finding("pages", False, f"not printed on the pages: {listed}", f"页面上没有印出：{listed}")
    return Finding(
        "pages",
        True,
        f"{len(wanted)} facts printed as attached",
        f"{len(wanted)} 项事实与附件一致地印在页面上",
    )


def _agree(report: dict[str, Any], facts: dict[str, Any]) -> Finding:
    seals = [
        {"id": s["id"], "verdict": s["verdict"], "esID": (s.get("seal") or {}).get("esID")}
        for s in report["seals"]
    ]
    if report.get("verdict") != facts.get("verdict") or seals != facts.get("seals"):
        return Finding(
            "attachments", False, f"{ATTACHMENT} and {FACTS} disagree", f"{ATTACHMENT} 与 {FACTS} 不一致"
        )
    return Finding(
        "attachments",
        True,
        f"{ATTACHMENT} and {FACTS} agree ({len(seals)} seals)",
        f"{ATTACHMENT} 与 {FACTS} 一致（{len(seals)} 个签章）",
    )


def _document(original: bytes, facts: dict[str, Any]) -> Finding:
    mine = document_facts(original)
    named = {k: facts["document"].get(k) for k in mine}
    if mine != named:
        return Finding(
            "document",
            False,
            f"the document's SHA-256 {mine['sha256']} is not {named['sha256']}",
            f"文档的 SHA-256 为 {mine['sha256']}，不是报告所载的 {named['sha256']}",
        )
    return Finding(
        "document",
        True,
        f"SHA-256 {mine['sha256']}, SM3 and size match",
        f"SHA-256 {mine['sha256']}、SM3 与大小均一致",
    )


def check_evidence(pdf: bytes, anchors: list[bytes], original: bytes | None = None) -> list[Finding]:
    findings = [_seal(pdf, anchors)]
    try:
        report_raw, facts_raw = attached_report(pdf, ATTACHMENT), attached_report(pdf, FACTS)
        report = json.loads(report_raw) if report_raw else None
        facts = json.loads(facts_raw) if facts_raw else None
    except (ValueError, OSError) as exc:  # damaged attachment streams or JSON
        report = facts = None
        why = type(exc).__name__
        findings.append(Finding("attachments", False, f"unreadable: {why}", f"附件无法读取：{why}"))
    if report is None or facts is None:
        if len(findings) == 1:
            findings.append(
                Finding(
                    "attachments",
                    False,
                    f"{ATTACHMENT} or {FACTS} is missing",
                    f"缺少 {ATTACHMENT} 或 {FACTS}",
                )
            )
        return findings
    try:
        findings += [_agree(report, facts), _pages(pdf, facts)]
        if original is not None:
            findings.append(_document(original, facts))
    except (KeyError, TypeError, AttributeError) as exc:
        why = type(exc).__name__
        findings.append(
            Finding(
                "attachments",
                False,
                f"not an evidence report's JSON: {why}",
                f"附件不是验证报告的数据：{why}",
            )
        )
    return findings
