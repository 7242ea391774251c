"""`sealbridge agent`, `sealbridge pair`, `sealbridge native-host`."""

from __future__ import annotations

import argparse
import asyncio
import logging

from agent.cli.common import add_json_flag, command, print_json
from agent.config import load_config


def _config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (TOML or JSON); default: $SEALBRIDGE_HOME/config.toml")


@command
def _agent(args: argparse.Namespace) -> int:
    from agent.server.app import serve
    from agent.server.logs import setup_logging

    cfg = load_config(args.config, port=args.port, allow_origins=args.allow_origin)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(serve(cfg))
    return 0


@command
def _pair(args: argparse.Namespace) -> int:
    from agent.pairing import load_or_create_secret, pairing_code, register_origin, rotate_secret

    cfg = load_config(args.config, port=args.port)
    secret = rotate_secret(cfg) if args.rotate else load_or_create_secret(cfg)
    if args.origin:
        register_origin(cfg, args.origin)
    code = pairing_code(cfg, secret)
    if args.json:
        print_json({"code": code, "port": cfg.port, "registered_origin": args.origin})
    else:
        print("在扩展的设置页中粘贴此配对码 / Paste this pairing code into the extension's options page:")
        print(code)
        print("它等同于密码，请勿分享 / It is as secret as a password: do not share it.")
    return 0


@command
def _native_host(args: argparse.Namespace) -> int:
    from agent.pairing import run_native_host

    cfg = load_config(args.config)
    return run_native_host(cfg, list(args.caller))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agent", help="run the local agent (WebSocket service on 127.0.0.1 / ::1)")
    _config_flags(p)
    p.add_argument("--port", type=int, help="port (default 18600 or the config's)")
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow an extension origin (chrome-extension://<id>); repeatable",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs (never PINs or document bytes)")
    p.set_defaults(func=_agent)

    p = sub.add_parser("pair", help="print a pairing code for a browser without native messaging")
    _config_flags(p)
    p.add_argument("--port", type=int, help="the agent's port, if not the configured one")
    p.add_argument("--origin", help="register a Firefox extension origin moz-extension://<uuid>")
    p.add_argument(
        "--rotate", action="store_true", help="make a new secret (every extension must pair again)"
    )
    add_json_flag(p)
    p.set_defaults(func=_pair)

    p = sub.add_parser("native-host", help="native-messaging host (started by the browser, not by people)")
    _config_flags(p)
    p.add_argument(
        "caller",
        nargs="*",
        help="what the browser passes: Chrome/Edge the caller origin (and on Windows --parent-window=N), "
        "Firefox the host manifest path and the add-on id; anything else is ignored",
    )
    p.set_defaults(func=_native_host, extra_args="caller")
