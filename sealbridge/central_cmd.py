"""`sealbridge central …`: run the reference central platform, administer it, check its audit chain."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent.cli.common import add_json_flag, command, print_json
from formats.errors import SealBridgeError


def _db_flags(p: argparse.ArgumentParser, top: bool = False) -> None:
    # On sub-commands the defaults are SUPPRESS so `central --db X admin …` and `central admin … --db X` both work.
    default = None if top else argparse.SUPPRESS
    p.add_argument("--db", default=default, help="database: SQLite file path (default) or postgresql://… URL")
    p.add_argument(
        "--key-dir", default=default, help="platform key directory (default: next to the SQLite file)"
    )


def _print(args: argparse.Namespace, result: Any) -> None:
    if getattr(args, "json", False):
        print_json(result)
        return
    if isinstance(result, list):
        for item in result:
            print(_line(item))
    elif isinstance(result, dict):
        for key, value in result.items():
            print(f"{key}: {value}")
    else:
        print(result)


def _line(item: Any) -> str:
    if isinstance(item, dict):
        keys = (
            "esID",
            "id",
            "uscc",
            "name",
            "status",
            "valid_end",
            "grantee",
            "not_after",
            "active",
            "seq",
            "action",
        )
        return "  ".join(f"{k}={item[k]}" for k in keys if k in item and item[k] is not None)
    return str(item)


def _run(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    @command
    def runner(args: argparse.Namespace) -> int:
        _print(args, fn(args))
        return 0

    return runner


def _serve(args: argparse.Namespace) -> int:
    from central.admin_cli import settings_from
    from central.app import serve

    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.allow_remote:
        raise SealBridgeError(
            "BAD_REQUEST", "binding beyond loopback needs --allow-remote (put TLS in front of it)"
        )
    from central.admin_cli import read_cert

    settings = replace(
        settings_from(args),
        rate_per_second=args.rate,
        rate_burst=args.burst,
        trust_anchors=tuple(read_cert(path) for path in args.trust_anchor or []),
    )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    asyncio.run(serve(settings, args.host, args.port, args.ready_file))
    return 0


class _LazyAdmin:
    """central.admin_cli's functions, imported only when a central command runs (keeps `sealbridge` startup fast)."""

    def __getattr__(self, name: str) -> Callable[[argparse.Namespace], Any]:
        def call(args: argparse.Namespace) -> Any:
            from central import admin_cli

            return getattr(admin_cli, name)(args)

        return call


def register(subparsers: argparse._SubParsersAction) -> None:
    a = _LazyAdmin()

    p = subparsers.add_parser("central", help="run or administer the central seal platform (电子印章平台)")
    _db_flags(p, top=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18700)
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument(
        "--rate", type=float, default=50.0, help="public requests per second per client IP (0 = off)"
    )
    p.add_argument("--burst", type=int, default=100, help="token bucket size per client IP")
    p.add_argument(
        "--trust-anchor", action="append", help="root certificate file for /api/v1/verify (repeatable)"
    )
    p.add_argument("--ready-file", help=argparse.SUPPRESS)
    add_json_flag(p)
    p.set_defaults(func=command(_serve))
    groups = p.add_subparsers(dest="central_command", metavar="{admin,audit}")

    admin = groups.add_parser("admin", help="administer companies, imprints, seals, authorizations, tokens")
    acts = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    def leaf(
        name: str, fn: Callable[[argparse.Namespace], Any], help_text: str, parent=acts
    ) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_text)
        _db_flags(sp)
        add_json_flag(sp)
        sp.set_defaults(func=_run(fn))
        return sp

    sp = leaf("create-token", a.create_token, "create an admin API token (shown once)")
    sp.add_argument("--name", required=True)
    leaf("tokens", a.list_tokens, "list admin tokens")
    sp = leaf("revoke-token", a.revoke_token, "revoke an admin token")
    sp.add_argument("id")

    sp = leaf("company-add", a.company_add, "register a company (name + 统一社会信用代码)")
    sp.add_argument("--uscc", required=True)
    sp.add_argument("--name", required=True)
    leaf("companies", a.companies, "list companies")

    sp = leaf("imprint-add", a.imprint_add, "file a physical seal imprint (同章同模)")
    sp.add_argument("--company", required=True, help="company id or USCC")
    sp.add_argument("--name", required=True)
    sp.add_argument("--picture", help="PNG of the filed imprint (else one is drawn, for development)")
    sp.add_argument("--size-mm", type=int)
    sp.add_argument("--code", help="印章编码 of the physical seal")
    sp.add_argument("--draw-kind", help="seal kind label to draw when no --picture is given")

    sp = leaf("seal-make", a.seal_make, "make a V4 seal from a filed imprint")
    sp.add_argument("--company", required=True)
    sp.add_argument("--imprint", required=True)
    sp.add_argument(
        "--kind", required=True, help="legal_name, contract, finance, invoice, position, personal, …"
    )
    sp.add_argument("--name", required=True)
    sp.add_argument("--holder", required=True)
    sp.add_argument("--cert", action="append", required=True, help="bound certificate (PEM/DER), repeatable")
    sp.add_argument("--valid-start")
    sp.add_argument("--valid-end")
    sp.add_argument("--esid")
    sp.add_argument("--out", help="write the seal DER here")

    sp = leaf("seals", a.seals, "list seals")
    sp.add_argument("--company")
    sp = leaf("seal-show", a.seal_show, "show a seal with history and authorizations")
    sp.add_argument("esid")
    sp.add_argument("--out", help="write the seal DER here")
    for action in ("suspend", "resume", "revoke"):
        sp = leaf(action, a.seal_action, f"{action} a seal")
        sp.add_argument("esid")
        sp.add_argument("--reason")
        sp.set_defaults(action=action)
    sp = leaf("renew", a.renew, "re-make a seal with a new esID and cancel the old one (Art. 22)")
    sp.add_argument("esid")
    sp.add_argument("--cert", action="append")
    sp.add_argument("--valid-end")
    sp.add_argument("--new-esid")
    sp.add_argument("--reason")
    sp.add_argument("--out")
    sp = leaf("authorize", a.authorize, "authorize another certificate to use a seal (Art. 12)")
    sp.add_argument("esid")
    sp.add_argument("--cert", required=True)
    sp.add_argument("--grantee", required=True)
    sp.add_argument("--until", required=True)
    sp.add_argument("--not-before")
    sp = leaf("withdraw", a.withdraw, "withdraw an authorization")
    sp.add_argument("id")
    sp = leaf("authorizations", a.list_authorizations, "list a seal's authorizations")
    sp.add_argument("esid")

    audit_p = groups.add_parser("audit", help="check or export the platform audit chain")
    audit_acts = audit_p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    leaf("verify", a.audit_verify, "verify the hash chain; names the first bad record", audit_acts)
    sp = leaf("export", a.audit_export, "recent audit records", audit_acts)
    sp.add_argument("--limit", type=int, default=1000)
    sp.add_argument("--subject")


__all__ = ["register"]
