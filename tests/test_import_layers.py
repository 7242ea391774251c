"""The rooms and their arrows (docs/architecture.md), read from the import statements of every Python file:
formats ← stamping ← agent; central → stamping, formats; the `sealbridge` program composes them all;
nothing in agent/, stamping/, formats/ imports `central`; tests are imported only by tests; bench/ and
devkit/ (the harness they share) import no tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# room -> the rooms of ours it may import (besides itself). Third-party and standard modules are not checked.
ALLOWED: dict[str, set[str]] = {
    "formats": set(),
    "stamping": {"formats"},
    "agent": {"stamping", "formats"},
    "central": {"stamping", "formats"},
    "sealbridge": {"agent", "central", "stamping", "formats"},
    "devkit": {"agent", "central", "stamping", "formats"},
    "bench": {"devkit", "agent", "central", "stamping", "formats"},
    "installer": {"sealbridge", "agent", "stamping", "formats"},
    "tests": {"tests", "devkit", "sealbridge", "agent", "central", "stamping", "formats"},
}
OURS = set(ALLOWED)


def imported_rooms(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) for every absolute import of one of our rooms, at any depth of the file
    (imports inside functions count: they are the same dependency, only later)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OURS:
                found.append((node.lineno, top))
    return found


def python_files(room: str) -> list[Path]:
    return sorted(p for p in (REPO / room).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_each_room_imports_only_the_rooms_below_it(room: str) -> None:
    files = python_files(room)
    assert files, f"no Python files under {room}/"
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {top}"
        for path in files
        for line, top in imported_rooms(path)
        if top != room and top not in ALLOWED[room]
    ]
    assert not wrong, "layer rule broken (see docs/architecture.md):\n" + "\n".join(wrong)


def test_relative_imports_stay_inside_their_package() -> None:
    """Test modules use one import style (`from tests.support.X import …`); a relative import in a test
    would reach a sibling test module or a conftest, which the suite forbids."""
    offenders = []
    for path in python_files("tests"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [
            f"{path.relative_to(REPO)}:{n.lineno}"
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.level > 0
        ]
    assert not offenders, "relative imports in tests:\n" + "\n".join(offenders)


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    offenders = []
    for path in python_files("tests"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                last = node.module.split(".")[-1]
                if node.module.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}")
    assert not offenders, "shared helpers belong in tests/support/:\n" + "\n".join(offenders)


def test_the_rule_reader_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: an import of `central` inside a function is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from central.status import x\n    import agent.cli\n")
    assert imported_rooms(probe) == [(2, "central"), (3, "agent")]


def test_no_importorskip_of_our_own_packages() -> None:
    """An ImportError in our code must fail the suite, not skip a test silently."""
    offenders = []
    for path in python_files("tests"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).split(".")[0] in OURS
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, "importorskip on our own packages:\n" + "\n".join(offenders)
