"""A verification report (v2, as JSON) as lines of plain text in Chinese or English, for the CLI.

Names, not distinguished names; Beijing time with the zone shown; every sentence from the message
catalogue, so a Chinese screen gets no English sentence and no "None".
"""

from __future__ import annotations

from typing import Any

from stamping.messages import Lang, beijing_time, enum_text, render_reason
from stamping.report import EXPLAIN_ORDER


def _label(key: str, lang: Lang) -> str:
    return enum_text("label", key, lang)


def _colon(lang: Lang) -> str:
    return "：" if lang == "zh" else ": "


def _size(n: int | None, lang: Lang) -> str:
    if n is None:
        return "—"
    return f"{n:,} {_label('bytes', lang)}"


def report_lines(report: dict[str, Any], lang: Lang = "zh", path: str | None = None) -> list[str]:
    c = _colon(lang)
    doc = report.get("document") or {}
    lines = [render_reason(report["headline"], lang)]
    name = path or doc.get("name") or "—"
    facts = [str(report.get("format", "")).upper(), _size(doc.get("size"), lang)]
    if doc.get("pages"):
        n = doc["pages"]
        facts.append(f"{n} 页" if lang == "zh" else f"{n} page" + ("s" if n != 1 else ""))
    sep = "，" if lang == "zh" else ", "
    lines.append(
        f"{_label('document', lang)}{c}{name}（{sep.join(facts)}）"
        if lang == "zh"
        else f"Document: {name} ({sep.join(facts)})"
    )
    if doc.get("sm3"):
        lines.append(f"{_label('sm3', lang)}{c}{doc['sm3']}")
    lines.append(f"{_label('validation_time', lang)}{c}{beijing_time(report.get('validation_time'))}")
    platform = (report.get("policy") or {}).get("platform")
    if platform and platform.get("url"):
        lines.append(f"{_label('platform', lang)}{c}{platform['url']}")
    for seal in report.get("seals", []):
        lines.append("")
        lines.extend(seal_lines(seal, lang))
    return lines


def seal_lines(seal: dict[str, Any], lang: Lang) -> list[str]:
    c = _colon(lang)
    info = seal.get("seal") or {}
    title = info.get("name") or seal.get("id")
    verdict = enum_text("verdict", seal.get("verdict"), lang)
    etsi = seal.get("indication") + (f" / {seal['sub_indication']}" if seal.get("sub_indication") else "")
    out = [
        f"[{seal.get('id')}] {title} — {verdict}（ETSI {etsi}）"
        if lang == "zh"
        else f"[{seal.get('id')}] {title} — {verdict} (ETSI {etsi})"
    ]
    signer = seal.get("signer")
    if signer:
        who = signer.get("name") or "—"
        if signer.get("organisation") and signer.get("organisation") != who:
            who += f" · {signer['organisation']}"
        if signer.get("uscc"):
            who += (
                f"（{_label('uscc', lang)} {signer['uscc']}）"
                if lang == "zh"
                else f" (USCC {signer['uscc']})"
            )
        out.append(f"  {_label('signer', lang)}{c}{who}")
        out.append(f"  {_label('issuer', lang)}{c}{signer.get('issuer') or '—'}")
    if seal.get("signed_at"):
        source = enum_text("signing_time_source", seal.get("signing_time_source"), lang)
        tail = f"（{source}）" if lang == "zh" else f" ({source})"
        out.append(f"  {_label('signed_at', lang)}{c}{beijing_time(seal['signed_at'])}{tail}")
    if info:
        type_name = (info.get("type_name") or {}).get(lang) or _label("unknown_type", lang)
        out.append(f"  {_label('seal_id', lang)}{c}{info.get('esID') or '—'}")
        out.append(f"  {_label('seal_type', lang)}{c}{type_name}")
        out.append(f"  {_label('seal_version', lang)}{c}V{info.get('version')}")
        out.append(
            f"  {_label('seal_validity', lang)}{c}{beijing_time(info.get('valid_from'))} "
            f"{_label('to', lang)} {beijing_time(info.get('valid_to'))}"
        )
        if info.get("made_at"):
            out.append(f"  {_label('seal_made_at', lang)}{c}{beijing_time(info['made_at'])}")
    sig = seal.get("signature") or {}
    if sig.get("algorithm"):
        out.append(f"  {_label('algorithm', lang)}{c}{sig['algorithm']}")
    for warning in seal.get("warnings", []):
        out.append(f"  ! {_label('warnings', lang)}{c}{render_reason(warning, lang)}")
    out.append(f"  {_label('checks', lang)}{c}".rstrip())
    for name in EXPLAIN_ORDER:
        check = seal["checks"][name]
        status = "not_applicable" if not check.get("applicable", True) else check["status"]
        sep = "；" if lang == "zh" else "; "
        text = sep.join(render_reason(r, lang) for r in check.get("reasons", []))
        out.append(f"    {enum_text('check', name, lang)}{c}{enum_text('status', status, lang)} — {text}")
    return out
