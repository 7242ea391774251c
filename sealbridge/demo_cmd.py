"""`sealbridge demo`: the one-command demo (issue 9) — platform, seals, soft token, agent, portal, journey."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli.common import command


@command
def _demo(args: argparse.Namespace) -> int:
    from sealbridge.demo.runner import run_demo

    return run_demo(Path(args.dir), once=args.once, port_base=args.port_base)


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
    p.set_defaults(func=_demo)
