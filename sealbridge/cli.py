"""The `sealbridge` program: the composition root. It puts together the agent's command groups
(agent.cli), the central platform's (sealbridge.central_cmd) and the demo (sealbridge.demo_cmd); the layers
it composes never import each other's upper rooms (see docs/architecture.md).

Start-up is kept cheap: a command imports only its own module (and the libraries that module needs), and
`--version` imports none. Only the overview (`sealbridge`, `sealbridge --help`, an unknown command)
imports them all, to list every command with its help line."""

from __future__ import annotations

import argparse
import importlib
import sys

from agent.cli import COMMANDS as AGENT_COMMANDS

# command name -> (package, module) whose register(subparsers) adds it and sets `func` (args -> int).
COMMANDS: dict[str, tuple[str, str]] = {
    **{name: ("agent.cli", module) for name, module in AGENT_COMMANDS.items()},
    "central": ("sealbridge", "central_cmd"),
    "demo": ("sealbridge", "demo_cmd"),
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))


class _Version(argparse.Action):
    """`--version`, reading the installed version only when asked (importlib.metadata is not free)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from agent import __version__

        sys.stdout.write(f"sealbridge {__version__}\n")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole program's parser; with `only` (a command name), just that command's module registered,
    or none for the empty string."""
    parser = argparse.ArgumentParser(prog="sealbridge", description="SealBridge electronic seals (电子印章)")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = COMMAND_MODULES if only is None else ([COMMANDS[only]] if only else [])
    for package, name in modules:
        importlib.import_module(f"{package}.{name}").register(sub)
    from sealbridge.helptext import add_epilogs

    add_epilogs(parser)
    return parser


def _parser_for(argv: list[str]) -> argparse.ArgumentParser:
    first = argv[0] if argv else None
    if first in COMMANDS:
        return build_parser(first)
    if first == "--version":
        return build_parser("")
    return build_parser()  # the overview, or argparse's "invalid choice" naming every command


def main(argv: list[str] | None = None) -> int:
    from sealbridge.parent_death import exit_with_parent_if_asked

    exit_with_parent_if_asked()  # first: a child of the demo must not outlive it
    from agent.cli.collector import collector_paused_then_frozen

    argv = sys.argv[1:] if argv is None else list(argv)
    with collector_paused_then_frozen():  # start-up: the command's module and what it imports
        from agent.cli.common import quiet_libraries

        quiet_libraries()
        parser = _parser_for(argv)
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
