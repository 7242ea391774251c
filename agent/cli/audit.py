"""`sealbridge audit verify` / `sealbridge audit export --json`: the agent's hash-chained audit log."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from agent.cli.common import add_json_flag, command, print_json
from agent.config import load_config
from formats.errors import SealBridgeError

if TYPE_CHECKING:
    from agent.batch_manifest import BatchCheck


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


def _beijing(iso: str) -> str:
    from datetime import datetime, timedelta, timezone

    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return when.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S 北京时间 (UTC+8)")


@command
def _show_batch(args: argparse.Namespace) -> int:
    """Print one batch record's manifest and check the chain, the manifest signature and every link."""
    from pathlib import Path

    from agent.audit import AuditLog
    from agent.batch_manifest import check_batch

    path = _db_path(args)
    if not Path(path).is_file():
        raise SealBridgeError("NOT_FOUND", f"no audit log at {path}")
    log = AuditLog(path)
    try:
        records = log.records()
        chain = log.verify()
    finally:
        log.close()
    check = check_batch(records, args.batch_id)
    if check is None:
        raise SealBridgeError("NOT_FOUND", f"no batch record {args.batch_id}")
    problems = list(check.problems) + ([] if chain.ok else [f"audit chain broken at {chain.first_bad_seq}"])
    if args.json:
        print_json(check.to_dict() | {"ok": not problems, "problems": problems, "chain": chain.to_dict()})
    else:
        _print_batch(check)
        if problems:
            print("校验失败 check FAILED:")
            for p in problems:
                print(f"  - {p}")
        else:
            print("清单签名与全部链接有效 manifest signature and every link check out")
    if problems:
        if not args.json:
            err = SealBridgeError("BATCH_MANIFEST_INVALID", "; ".join(problems)[:1000])
            sys.stderr.write(f"错误 error [{err.code}] {err.message_zh} / {err.message_en}\n")
        return 1
    return 0


_STATUS = {
    "stamped": "已盖章 stamped",
    "failed": "失败 failed",
    "cancelled": "已取消 cancelled",
    "excluded": "未勾选 unticked",
    "ready": "未执行 not run",
}


def _print_batch(check: BatchCheck) -> None:
    rec, manifest = check.record, check.manifest
    docs = manifest.get("documents", [])
    seal = manifest.get("seal") or {}
    print(f"批量盖章 batch {check.batch_id} — 审计记录 audit record {check.seq}")
    print(f"  时间 time: {_beijing(str(rec.get('time')))}")
    print(f"  结果 result: {rec.get('result')}")
    print(f"  网站 site: {rec.get('origin_top')}")
    print(f"  印章 seal: {seal.get('seal_id')}  证书序列号 certificate serial: {seal.get('cert_serial')}")
    print(f"  文档 documents: {len(docs)}")
    for d in docs:
        status = _STATUS.get(str(d.get("status")), str(d.get("status")))
        shown = "已预览 shown" if d.get("shown") else "未预览 not shown"
        err = f" [{d['error_code']}]" if d.get("error_code") else ""
        print(f"  #{d.get('index')} {d.get('name') or '(无名称 unnamed)'} — {status}{err}, {shown}")
        print(f"      SM3 前 before: {d.get('sm3_before')}")
        if d.get("sm3_after"):
            print(f"      SM3 后 after:  {d.get('sm3_after')}")
        if d.get("audit_seq") is not None:
            print(f"      盖章记录 stamp record: {d.get('audit_seq')}")


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
    q = asub.add_parser(
        "show-batch",
        help="print a batch record's manifest; check its signature and every linked stamp record",
    )
    q.add_argument("batch_id", metavar="ID", help="the batch id (stamp.batch's batch_id) or the record's seq")
    q.add_argument("--config", help="agent config file")
    q.add_argument("--db", help="audit database path (default: the agent's data dir)")
    add_json_flag(q)
    q.set_defaults(func=_show_batch)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
