"""The `sealbridge` program: the composition root. It puts together the agent's command groups
(agent.cli), the central platform's (sealbridge.central_cmd) and the demo (sealbridge.demo_cmd); the layers
it composes never import each other's upper rooms (see docs/architecture.md)."""

from __future__ import annotations

import argparse
import importlib
import sys

from agent import __version__
from agent.cli import COMMAND_MODULES as AGENT_COMMANDS

# (package, module) pairs, each with register(subparsers) setting `func` (args -> int exit code).
COMMAND_MODULES = [
    *(("agent.cli", name) for name in AGENT_COMMANDS),
    ("sealbridge", "central_cmd"),
    ("sealbridge", "demo_cmd"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sealbridge", description="SealBridge electronic seals (电子印章)")
    parser.add_argument("--version", action="version", version=f"sealbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for package, name in COMMAND_MODULES:
        importlib.import_module(f"{package}.{name}").register(sub)
    from sealbridge.helptext import add_epilogs

    add_epilogs(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    from agent.cli.common import quiet_libraries

    quiet_libraries()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Only a command started by a browser takes what it cannot name (`native-host`: Chrome/Edge on
        # Windows add --parent-window=<handle>); everywhere else an unknown argument is a mistake.
        if getattr(args, "extra_args", None) != "caller":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.caller = [*args.caller, *unknown]
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
