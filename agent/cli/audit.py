"""`sealbridge audit verify` / `sealbridge audit export --json`: the agent's hash-chained audit log."""

from __future__ import annotations

import argparse
import json
import sys

from agent.cli.common import add_json_flag, command, print_json
from agent.config import load_config
from formats.errors import SealBridgeError


def _db_path(args: argparse.Namespace) -> str:
    if args.db:
        return args.db
    return str(load_config(args.config).audit_db)


@command
def _verify(args: argparse.Namespace) -> int:
    from agent.audit import verify_file

    check = verify_file(_db_path(args))
    # Without the head file a log whose newest records were cut looks whole: say so, and do not call it
    # intact unless the caller accepts a log without a head (--no-head, e.g. one copied without it).
    unanchored = check.ok and bool(check.extra.get("warning"))
    if args.json:
        print_json(check.to_dict())
    elif not check.ok:
        print(f"审计日志被破坏 audit log BROKEN at record {check.first_bad_seq}: {check.reason}")
    elif unanchored:
        print(
            f"审计日志链完整，但缺少头记录文件，无法发现末尾记录被删除 audit log chain intact, but its head "
            f"file is missing, so deleted newest records cannot be detected: {check.count} records, "
            f"head {check.head_hash}"
        )
    else:
        print(f"审计日志完整 audit log intact: {check.count} records, head {check.head_hash}")
    if not check.ok:
        if not args.json:
            err = SealBridgeError("AUDIT_BROKEN", check.reason)
            sys.stderr.write(f"错误 error [{err.code}] {err.message_zh} / {err.message_en}: {err.detail}\n")
        return 1
    if unanchored and not args.no_head:
        if not args.json:
            sys.stderr.write(
                "警告 warning: 如确认该日志本无头记录文件，请加 --no-head / pass --no-head to accept it\n"
            )
        return 1
    return 0


@command
def _export(args: argparse.Namespace) -> int:
    from agent.audit import AuditLog

    path = _db_path(args)
    from pathlib import Path

    if not Path(path).is_file():
        raise SealBridgeError("NOT_FOUND", f"no audit log at {path}")
    log = AuditLog(path)
    try:
        records = [r.to_dict() for r in log.records()]
        check = log.verify()
    finally:
        log.close()
    doc = {"records": records, "chain": check.to_dict()}
    if args.output:
        from stamping.fileout import atomic_write

        atomic_write(args.output, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
    else:
        print_json(doc)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the agent's audit log")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    for name, func, helptext in (
        ("verify", _verify, "check the hash chain; names the first bad record"),
        ("export", _export, "export every record as JSON"),
    ):
        q = asub.add_parser(name, help=helptext)
        q.add_argument("--config", help="agent config file")
        q.add_argument("--db", help="audit database path (default: the agent's data dir)")
        add_json_flag(q)
        if name == "export":
            q.add_argument("-o", "--output", help="write to this file instead of stdout")
        if name == "verify":
            q.add_argument("--no-head", action="store_true",
                           help="accept a log without its head file (deleted newest records go unnoticed)")  # fmt: skip
        q.set_defaults(func=func)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
