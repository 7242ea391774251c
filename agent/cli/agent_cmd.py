"""`sealbridge agent`, `sealbridge pair`, `sealbridge native-host`."""

from __future__ import annotations

import argparse
import asyncio
import logging

from agent.cli.common import add_json_flag, command, print_json
from agent.config import load_config
from formats.errors import SealBridgeError


def _config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (TOML or JSON); default: $SEALBRIDGE_HOME/config.toml")


@command
def _agent(args: argparse.Namespace) -> int:
    from agent.server.app import serve
    from agent.server.heap import keep_freed_memory
    from agent.server.logs import log_event, setup_logging

    # This process is the agent's own: its allocator may keep what one stamp frees for the next (heap.py).
    kept = keep_freed_memory()
    cfg = load_config(args.config, port=args.port, allow_origins=args.allow_origin)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    log_event("heap_policy", keeps_freed_memory=kept)
    asyncio.run(serve(cfg))
    return 0


@command
def _pair(args: argparse.Namespace) -> int:
    from agent.pairing import load_or_create_secret, pairing_code, register_origin, rotate_secret

    cfg = load_config(args.config, port=args.port)
    if not args.offline:
        _require_running_agent(cfg.port)
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


def _require_running_agent(port: int) -> None:
    """A pairing code is only useful while its agent runs: check that one answers on the port first."""
    import json
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            ok = json.loads(resp.read(4096)).get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        ok = False
    if not ok:
        raise SealBridgeError(
            "AGENT_UNAVAILABLE",
            f"nothing answers on 127.0.0.1:{port}; start it with `sealbridge agent` (or pair with --offline)",
        )


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
    p.add_argument(
        "--offline",
        action="store_true",
        help="print the code even though no agent answers (one started later uses the same secret)",
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
