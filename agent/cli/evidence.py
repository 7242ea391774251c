"""`sealbridge evidence check EVIDENCE.pdf [--document ORIGINAL]` — check an evidence report the platform's
verification service issued: its signature and time-stamp (to --trust or the platform's roots), that the
attached JSON is what the pages print, and that it names this original document.

Exit codes: 0 every check passed, 1 a check failed, 2 error.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from agent.cli.common import add_json_flag, command, print_json
from formats.errors import SealBridgeError
from stamping.pinnedfile import open_regular_file, require_regular_file

NAMES = {
    "seal": "平台签章 / platform seal",
    "attachments": "附件一致 / attachments agree",
    "pages": "页面与附件一致 / pages match the attachment",
    "document": "原文档哈希 / original's hash",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("evidence", help="evidence reports (电子印章验证报告)")
    sub = p.add_subparsers(dest="evidence_command", metavar="COMMAND")
    c = sub.add_parser("check", help="check an evidence report the platform issued")
    c.add_argument("file", metavar="EVIDENCE.pdf")
    c.add_argument("--document", metavar="ORIGINAL", help="the original document the report is about")
    c.add_argument(
        "--trust", action="append", default=[], metavar="DIR_OR_PEM", help="trust anchors (repeatable)"
    )
    c.add_argument("--platform", metavar="URL", help="trust the roots this central platform publishes")
    add_json_flag(c)
    c.set_defaults(func=cmd_check)


def _read(path: str, limit: int = 256 * 1024 * 1024) -> bytes:
    try:
        require_regular_file(path, os.stat(path).st_mode)  # a device is not even opened
        with open_regular_file(path) as f:  # nor a pipe that took its place since
            data = f.read(limit + 1)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"{path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise SealBridgeError("DOC_TOO_LARGE", f"{path}: over {limit} bytes")
    return data


@command
def cmd_check(args: argparse.Namespace) -> int:
    from agent.cli.verify import load_cert_files
    from stamping.evidence.check import check_evidence

    pdf = _read(args.file)
    if not pdf.startswith(b"%PDF"):
        raise SealBridgeError("DOC_UNSUPPORTED", f"{args.file}: an evidence report is a PDF")
    anchors = [c for spec in args.trust for c in load_cert_files(spec, anchors=True)]
    if args.platform:
        from agent.tsa_client import platform_roots

        anchors += platform_roots(args.platform)
    original = _read(args.document) if args.document else None
    findings = check_evidence(pdf, anchors, original)
    ok = all(f.ok for f in findings)
    if args.json:
        print_json({"ok": ok, "checks": [f.to_dict() for f in findings]})
    else:
        print(f"{Path(args.file).name}: {'通过 / passed' if ok else '未通过 / failed'}")
        for f in findings:
            print(f"  {'✓' if f.ok else '✗'} {NAMES.get(f.name, f.name)}: {f.detail_zh}")
            print(f"      {f.detail}")
    return 0 if ok else 1
