"""The `sealbridge` command line. Each command group lives in its own module with a `register()`."""

from __future__ import annotations

import argparse
import importlib
import sys

from agent import __version__

# Each module defines register(subparsers) and sets `func` (args -> int exit code) on its parsers.
# A module that does not exist yet is skipped, so groups can land independently.
COMMAND_MODULES = [
    "pki",  # dev-pki
    "seal",  # seal inspect
    "token",  # token init/import/list/change-pin
    "seals",  # seals list
    "stamp",  # stamp
    "verify",  # verify
    "agent_cmd",  # agent, pair, native-host
    "audit",  # audit verify/export
    "central_cmd",  # central, central admin, central audit
    "demo",  # demo
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sealbridge", description="SealBridge electronic seals (电子印章)")
    parser.add_argument("--version", action="version", version=f"sealbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        modname = f"agent.cli.{name}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue
            raise
        module.register(sub)
    from agent.cli.helptext import add_epilogs

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
