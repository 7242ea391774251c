"""`sealbridge demo`: the one-command demo (issue 9) — platform, seals, soft token, agent, portal, journey."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli.common import command


@command
def _demo(args: argparse.Namespace) -> int:
    from sealbridge.demo.runner import run_demo

    return run_demo(
        Path(args.dir), once=args.once, port_base=args.port_base, allow_sites=tuple(args.allow_site)
    )


def site_origin(value: str) -> str:
    """An integrator's page origin: https://host[:port], or http:// on this machine (development)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        parts = None
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if (
        parts is None
        or not host
        or parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not loopback)
        or parts.path not in ("", "/")
        or parts.query
        or parts.username
    ):
        raise argparse.ArgumentTypeError(
            f"{value!r}: give an origin like https://oa.example.cn or http://localhost:8080 "
            "(网址只写到端口，例如 https://oa.example.cn)"
        )
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo: central platform, seals, soft token, agent and portal; stamp, verify, revoke",
    )
    p.add_argument("--dir", default=".demo", help="demo directory (default ./.demo; recreated on each run)")
    p.add_argument(
        "--once", action="store_true", help="run the journey once and exit (0 only if every step passed)"
    )
    p.add_argument(
        "--port-base",
        type=int,
        metavar="N",
        help="use ports N (platform), N+1 (agent), N+2 (portal) instead of free ones",
    )
    p.add_argument(
        "--allow-site",
        action="append",
        default=[],
        type=site_origin,
        metavar="ORIGIN",
        help="also allow your own page's origin (repeatable), e.g. http://localhost:8080 — "
        "as an administrator would list it; the extension then asks no question for it",
    )
    p.set_defaults(func=_demo)
