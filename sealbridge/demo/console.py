"""What the demo prints: numbered steps (Chinese + English one-liners) and compact verification reports."""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

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


def _common_name(subject: str) -> str:
    m = re.search(r"Common Name: ([^,]+)", subject or "")
    return m.group(1).strip() if m else (subject or "")[:60]


def _check_mark(name: str, check: dict[str, Any]) -> str:
    status = check.get("status", "unknown")
    if status == "unknown" and str(check.get("detail", "")).startswith("not applicable"):
        return f"{SHORT[name]}–"
    return f"{SHORT[name]}{MARK.get(status, '?')}"


def report_lines(report: dict[str, Any]) -> list[str]:
    """A verification report in a few lines: the verdict, then per seal its verdict, who, which seal, when,
    the checks as marks, and the platform status in words."""
    seals = report.get("seals", [])
    lines = [
        f"verdict 结论: {report.get('verdict')}  ({report.get('format', '?').upper()}, {len(seals)} seal(s))"
    ]
    for s in seals:
        seal = s.get("seal") or {}
        signer = s.get("signer") or {}
        lines.append(
            f"  - {s.get('verdict'):<13} {seal.get('name', '?')} [{seal.get('esID', '?')}]"
            f" signed {s.get('signed_at') or '?'} by {_common_name(signer.get('subject', ''))}"
        )
        checks = s.get("checks", {})
        marks = " ".join(_check_mark(n, checks[n]) for n in SHORT if n in checks)
        lines.append(f"      {marks}")
        platform = checks.get("platform_status", {})
        if platform.get("detail"):
            lines.append(f"      platform: {platform['detail'][:160]}")
        for name, check in checks.items():
            if check.get("status") == "failed":
                lines.append(f"      {name} failed: {str(check.get('detail'))[:160]}")
    return lines
