"""The `sealbridge` program: the composition root. It puts together the agent's command groups
(agent.cli), the central platform's (sealbridge.central_cmd) and the demo (sealbridge.demo_cmd); the layers
it composes never import each other's upper rooms (see docs/architecture.md).

Start-up is kept cheap: a command imports only its own module (and the libraries that module needs), and
`--version` imports none. Only the overview (`sealbridge`, `sealbridge --help`, an unknown command)
imports them all, to list every command with its help line."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from agent.cli import COMMANDS as AGENT_COMMANDS

if TYPE_CHECKING:
    import argparse

# command name -> (package, module) whose register(subparsers) adds it and sets `func` (args -> int).
COMMANDS: dict[str, tuple[str, str]] = {
    **{name: ("agent.cli", module) for name, module in AGENT_COMMANDS.items()},
    "central": ("sealbridge", "central_cmd"),
    "demo": ("sealbridge", "demo_cmd"),
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))


def _version_action() -> type[argparse.Action]:
    """`--version`'s action, reading the installed version only when asked (importlib.metadata is not
    free). Made when a parser is built, not when this module loads: argparse is not loaded before main()
    has called verify_early.start(), which forks a large PDF's hashing child as early as it can."""
    import argparse

    class Version(argparse.Action):
        def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
            super().__init__(
                option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version"
            )

        def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
            from agent import __version__

            try:
                sys.stdout.write(f"sealbridge {__version__}\n")  # on stdout, as argparse's own version action
                sys.stdout.flush()
            except BrokenPipeError:  # `sealbridge --version | true`
                from agent.cli.common import output_closed

                parser.exit(output_closed())
            parser.exit()

    return Version


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole program's parser; with `only` (a command name), just that command's module registered,
    or none for the empty string."""
    import argparse

    parser = argparse.ArgumentParser(prog="sealbridge", description="SealBridge electronic seals (电子印章)")
    parser.add_argument("--version", action=_version_action())
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
        from agent.cli.dataclass_code import cached

        with cached():  # the command's module and what it imports, with their dataclasses
            return build_parser(first)
    if first == "--version":
        return build_parser("")
    return build_parser()  # the overview, or argparse's "invalid choice" naming every command


def main(argv: list[str] | None = None) -> int:
    """Run one command: `argv` (default: this program's arguments) parsed and dispatched; its exit code.
    Without `argv` this is the whole program (the console script, `python -m sealbridge`), and a command
    that leaves nothing behind may end the process here (see _end_now); given a list, it returns."""
    from agent.cli.collector import collector_paused_then_frozen

    with collector_paused_then_frozen():  # start-up: the command's module and what it imports
        from sealbridge.parent_death import exit_with_parent_if_asked

        exit_with_parent_if_asked()  # first: a child of the demo must not outlive it
        whole_program = argv is None
        argv = sys.argv[1:] if argv is None else list(argv)
        if whole_program:
            from agent.cli.verify_early import start

            start(argv)  # `verify` of one large PDF: its reader and hasher start before the command loads
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
    code = int(args.func(args) or 0)
    if whole_program:
        try:
            sys.stdout.flush()  # here, not in the interpreter's exit, which would report a closed pipe
        except BrokenPipeError:  # `| head`: the reader has all it wants
            from agent.cli.common import output_closed

            code = output_closed()
    if whole_program and getattr(args, "nothing_to_tear_down", False):
        _end_now(code)
    return code


def _end_now(code: int) -> None:
    """End the process without the interpreter's tear-down: freeing, one by one, the objects a verification
    made (a 10-seal 50 MB PDF: 8 ms of the 12 the exit takes) is work for nothing at the end of a
    process. What an exit must still do is done, in the interpreter's order: the atexit handlers, then the
    standard streams flushed. Where that is in doubt (another thread still running, a tracer or profiler
    that reports at exit, a flush that fails) the process ends as usual instead."""
    import atexit
    import os
    import threading

    if threading.active_count() != 1 or sys.gettrace() is not None or sys.getprofile() is not None:
        return
    atexit._run_exitfuncs()  # they are cleared once run: an exit as usual after this does not repeat them
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except KeyboardInterrupt:  # Ctrl-C while a reader keeps the pipe full: as every command answers it
        from agent.cli.common import EXIT_INTERRUPTED, INTERRUPTED_LINE

        os.write(2, INTERRUPTED_LINE.encode())
        os._exit(EXIT_INTERRUPTED)
    except Exception:  # noqa: BLE001 - a closed pipe: the interpreter reports it at exit, as it always did
        return
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
