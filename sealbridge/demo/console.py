"""What the demo prints: numbered steps (Chinese + English one-liners) and compact verification reports."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from stamping.messages import beijing_time, enum_text, render_reason

MARK = {"ok": "✓", "failed": "✗", "unknown": "?"}
SHORT = {
    "integrity": "integrity",
    "signature": "signature",
    "seal": "seal",
    "signer_in_seal": "signer∈seal",
    "certificate": "cert",
    "platform_status": "platform",
    "changes_after": "changes",
    "timestamp": "timestamp",
}


class Console:
    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout
        self.step_no = 0

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def title(self, zh: str, en: str) -> None:
        self.line()
        self.line(f"== {zh} / {en} ==")

    def step(self, zh: str, en: str) -> None:
        self.step_no += 1
        self.line(f"[{self.step_no:02d}] {zh} / {en}")

    def info(self, text: str) -> None:
        self.line(f"     {text}")

    def result(self, ok: bool, zh: str, en: str) -> None:
        self.line(f"     {'OK  ' if ok else 'FAIL'} {zh} / {en}")


def _check_mark(name: str, check: dict[str, Any]) -> str:
    if check.get("applicable") is False:
        return f"{SHORT[name]}–"
    return f"{SHORT[name]}{MARK.get(check.get('status', 'unknown'), '?')}"


def _both(label_zh: str, label_en: str, check: dict[str, Any]) -> list[str]:
    """The check's reasons in Chinese, then in English (the message catalogue's sentences)."""
    reasons = check.get("reasons") or []
    zh = "；".join(render_reason(r, "zh") for r in reasons)
    en = "; ".join(render_reason(r, "en") for r in reasons)
    return [f"      {label_zh}：{zh[:160]}", f"      {label_en}: {en[:160]}"]


def report_lines(report: dict[str, Any]) -> list[str]:
    """A verification report (v2, as the agent returns it) in a few lines, Chinese first: the verdict, then per seal its verdict, which seal,
    when (Beijing time), who (a name, not a DN), the checks as marks, and the platform status in words."""
    seals = report.get("seals", [])
    verdict = report.get("verdict")
    lines = [
        f"结论 / verdict: {enum_text('verdict', verdict, 'zh')} / {verdict}  "
        f"({str(report.get('format', '?')).upper()}, {len(seals)} 个签章 / seal(s))"
    ]
    for s in seals:
        seal = s.get("seal") or {}
        signer = s.get("signer") or {}
        who = signer.get("name") or "?"
        lines.append(
            f"  - {enum_text('verdict', s.get('verdict'), 'zh')} / {s.get('verdict')}  "
            f"{seal.get('name', '?')} [{seal.get('esID', '?')}]"
        )
        lines.append(
            f"      盖章时间 / sealed at: {beijing_time(s.get('signed_at'))}   签章人 / signer: {who}"
        )
        checks = s.get("checks", {})
        marks = " ".join(_check_mark(n, checks[n]) for n in SHORT if n in checks)
        lines.append(f"      {marks}")
        platform = checks.get("platform_status", {})
        if platform.get("reasons"):
            lines.extend(_both("平台", "platform", platform))
        for name, check in checks.items():
            if check.get("status") == "failed":
                lines.extend(_both(f"{enum_text('check', name, 'zh')}未通过", f"{name} failed", check))
    return lines
