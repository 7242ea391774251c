"""Start-up of the `sealbridge` program: a command imports only its own module, `--version` none, and
neither pulls in the heavy document libraries (checked by what is in sys.modules, never by time)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("pyhanko", "pypdfium2", "lxml", "aiohttp", "pikepdf", "PIL", "tongsuopy", "gmssl")

# Runs a `sealbridge` command in a fresh interpreter and prints which heavy libraries it imported.
PROBE = """
import json, sys
from sealbridge.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(%r)))
sys.stderr.write("HEAVY=" + json.dumps(heavy) + "\\n")
"""


def heavy_imports(*argv: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run(
        [sys.executable, "-c", PROBE % json.dumps(HEAVY), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    line = [x for x in res.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, res.stderr
    return json.loads(line[-1].removeprefix("HEAVY=")), res


def test_importing_the_program_loads_no_document_library():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = f"import sys, sealbridge.cli; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=120)  # fmt: skip
    assert res.stdout.strip() == "[]", res


def test_the_overview_loads_no_pdf_or_network_library():
    heavy, res = heavy_imports()  # no command: the overview, every command registered
    assert "COMMAND" in res.stdout
    assert set(heavy).isdisjoint({"pyhanko", "pypdfium2", "lxml", "aiohttp"}), heavy


def test_version_loads_no_document_library():
    heavy, res = heavy_imports("--version")
    assert res.stdout.startswith("sealbridge ") and res.stdout.split()[1][0].isdigit(), res.stdout
    assert heavy == [], heavy


def test_verify_help_loads_no_document_library():
    heavy, res = heavy_imports("verify", "--help")
    assert "sealbridge verify" in res.stdout
    assert heavy == [], heavy


def test_python_dash_m_runs_the_program():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "sealbridge", "--version"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=120)  # fmt: skip
    assert res.returncode == 0 and res.stdout.startswith("sealbridge "), res


def _registered(parser: argparse.ArgumentParser) -> set[str]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(subs[0].choices) if subs else set()


def test_the_command_table_names_what_each_module_registers():
    """The program imports a command's module by the table; a command the table misses or misplaces would
    be unreachable (or reachable only through the overview)."""
    from sealbridge.cli import COMMAND_MODULES, COMMANDS, build_parser

    assert _registered(build_parser()) == set(COMMANDS)
    for package, module in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"{package}.{module}").register(sub)
        assert set(sub.choices) == {n for n, m in COMMANDS.items() if m == (package, module)}, module
    for name in COMMANDS:
        assert name in _registered(build_parser(name))
    assert _registered(build_parser("")) == set()


@pytest.mark.parametrize("argv", [["--version"], ["verify", "--help"]])
def test_start_up_paths_exit_cleanly(argv: list[str], capsys):
    from sealbridge.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert capsys.readouterr().out
