"""The compiled dataclass methods kept between runs (agent/cli/dataclass_code.py): classes made from the
cache behave as classes made the usual way; a file that cannot be used is an empty cache; the file is
written when bytecode would be, atomically, and its absence or a read-only place changes nothing but time;
the installation step covers what `sealbridge verify` of a PDF starts with."""

from __future__ import annotations

import dataclasses
import importlib.util
import marshal
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.cli import dataclass_code
from tests.support.fresh_python import run_python


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache at a path of this test's own, the module's state fresh, and put back afterwards."""
    path = tmp_path / "pycache" / "dataclass_code.test.code"
    monkeypatch.setattr(dataclass_code, "cache_path", lambda: path)
    for name, value in (("_loaded", None), ("_added", {}), ("_used", {})):
        monkeypatch.setattr(dataclass_code, name, value)
    yield path
    assert "exec" not in vars(dataclasses)


def _forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new process starts: nothing read or compiled yet."""
    for name, value in (("_loaded", None), ("_added", {}), ("_used", {})):
        monkeypatch.setattr(dataclass_code, name, value)


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("compiled although the cache had it")

    monkeypatch.setattr(dataclass_code, "compile", refuse, raising=False)  # found before the built-in


def _make_classes() -> dict[str, type]:
    """A new set of dataclasses (new class objects at each call) using what @dataclass writes code for."""

    @dataclasses.dataclass(frozen=True, order=True)
    class Point:
        x: int
        y: int = 0
        tag: str = dataclasses.field(default="p", compare=False, repr=False)

    @dataclasses.dataclass
    class Bag:
        items: list[int] = dataclasses.field(default_factory=list)
        scale: dataclasses.InitVar[int] = 1
        total: int = dataclasses.field(init=False, default=0)
        kind: ClassVar[str] = "bag"

        def __post_init__(self, scale: int) -> None:
            self.items = [i * scale for i in self.items]
            self.total = sum(self.items)

    @dataclasses.dataclass(kw_only=True, slots=True, unsafe_hash=True)
    class Keyed:
        name: str
        size: int = 3

    return {"Point": Point, "Bag": Bag, "Keyed": Keyed}


def _behaviour(classes: dict[str, type]) -> list[Any]:
    """What the generated methods do, as values that compare across two sets of classes."""
    point, bag, keyed = classes["Point"], classes["Bag"], classes["Keyed"]
    out: list[Any] = []
    p, q = point(1, 2, "a"), point(1, 3)
    out += [repr(p), p == point(1, 2, "zzz"), p < q, hash(p) == hash(point(1, 2)), sorted([q, p]) == [p, q]]
    try:
        p.x = 5  # type: ignore[misc]
    except dataclasses.FrozenInstanceError as exc:
        out.append(type(exc).__name__)
    b = bag([1, 2], 10)
    out += [repr(b), b.total, b == bag([1, 2], 10), bag().items, bag().items is not bag().items]
    k = keyed(name="n")
    out += [repr(k), hash(k) == hash(keyed(name="n")), k == keyed(name="n", size=3), hasattr(k, "__dict__")]
    for make in (lambda: point(), lambda: keyed("n"), lambda: bag([1], 2, 3)):
        try:
            make()
        except TypeError as exc:
            out.append(str(exc).replace(f"{point.__qualname__}", "Point"))
    out.append([f.name for f in dataclasses.fields(bag)])
    return out


def test_classes_made_from_the_cache_behave_as_those_made_the_usual_way(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usual = _behaviour(_make_classes())
    with dataclass_code.cached(write=True):
        compiled_now = _behaviour(_make_classes())
    assert cache_file.is_file() and dataclass_code._used
    _forget(monkeypatch)
    _no_compiling(monkeypatch)
    with dataclass_code.cached():
        from_file = _behaviour(_make_classes())
    assert not dataclass_code._added  # every method came from the file
    assert from_file == compiled_now == usual
    assert dataclass_code._loaded == {}  # the bytes each came from are not kept once it is made
    assert usual[0] == "_make_classes.<locals>.Point(x=1, y=2)"


def test_the_methods_are_those_exec_makes_of_the_same_text(cache_file: Path) -> None:
    text = "def __create_fn__(a):\n def f(self, b):\n  return (a, b, self)\n return f"
    with dataclass_code.cached(write=True):
        dataclasses.exec(text, {}, spaces := {})  # type: ignore[attr-defined]
    cached_code = spaces["__create_fn__"].__code__
    plain: dict[str, Any] = {}
    exec(text, {}, plain)  # noqa: S102 - the text above
    assert _shape(cached_code) == _shape(plain["__create_fn__"].__code__)
    assert spaces["__create_fn__"](1)(2, 3) == (1, 3, 2)


def test_without_globals_the_callers_are_used_as_by_exec(cache_file: Path) -> None:
    spaces: dict[str, Any] = {}
    dataclass_code._exec("seen = __name__", None, spaces)
    plain: dict[str, Any] = {}
    exec("seen = __name__", None, plain)  # noqa: S102 - the text above
    assert spaces == plain == {"seen": __name__}


def _shape(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_shape(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return (
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_filename,
        code.co_qualname,
        consts,
    )


def test_the_hook_is_there_only_while_a_cached_block_runs(cache_file: Path) -> None:
    assert "exec" not in vars(dataclasses)
    with dataclass_code.cached(write=False):
        assert vars(dataclasses)["exec"] is dataclass_code._exec
        with dataclass_code.cached(write=False):
            pass
        assert vars(dataclasses)["exec"] is dataclass_code._exec  # the outer block still runs
    assert "exec" not in vars(dataclasses)
    with pytest.raises(RuntimeError), dataclass_code.cached(write=False):
        raise RuntimeError("a failing import")
    assert "exec" not in vars(dataclasses)


def _header() -> bytes:
    return dataclass_code._HEADER + importlib.util.MAGIC_NUMBER


@pytest.mark.parametrize(
    "contents",
    [
        b"",
        b"not a cache at all",
        _header()[:-4] + b"\x00\x00\x00\x00" + marshal.dumps({}),  # another interpreter's bytecode
        _header() + b"\xff\x00 truncated marshal",
        _header() + marshal.dumps(["a list", "not a table"]),
        _header() + marshal.dumps({b"k" * 16: "not code", "not bytes": b"x"}),
        _header() + marshal.dumps({b"?" * 16: b"not marshal'd code"}),
    ],
    ids=["empty", "garbage", "other-magic", "truncated", "list", "wrong-types", "bad-entry"],
)
def test_a_file_that_cannot_be_used_is_an_empty_cache(
    cache_file: Path, contents: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(contents)
    usual = _behaviour(_make_classes())
    with dataclass_code.cached(write=True):
        assert _behaviour(_make_classes()) == usual
    # and it was replaced by one that can be used
    _forget(monkeypatch)
    _no_compiling(monkeypatch)
    with dataclass_code.cached(write=False):
        assert _behaviour(_make_classes()) == usual
    assert cache_file.read_bytes().startswith(_header())


def test_a_damaged_entry_is_compiled_again(cache_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with dataclass_code.cached(write=True):
        usual = _behaviour(_make_classes())
    blob = cache_file.read_bytes()
    table = marshal.loads(blob[len(_header()) :])
    key = next(iter(table))
    table[key] = b"\x00garbage"
    cache_file.write_bytes(_header() + marshal.dumps(table))
    _forget(monkeypatch)
    with dataclass_code.cached(write=False):
        assert _behaviour(_make_classes()) == usual
    assert list(dataclass_code._added) == [key]


def test_written_under_the_rule_for_bytecode(cache_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    with dataclass_code.cached():
        _make_classes()
    assert not cache_file.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    with dataclass_code.cached():
        _make_classes()
    assert cache_file.is_file()
    assert cache_file.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in cache_file.parent.iterdir()] == [cache_file.name]  # no temporary file left


def test_a_place_that_cannot_be_written_changes_nothing_but_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setattr(dataclass_code, "cache_path", lambda: blocker / "pycache" / "x.code")
    _forget(monkeypatch)
    usual = _behaviour(_make_classes())
    with dataclass_code.cached(write=True):
        assert _behaviour(_make_classes()) == usual
    assert dataclass_code.save() is False
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_only_what_a_run_used_is_kept_past_the_limit(
    cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = {
        bytes([i % 256, i // 256]) * 8: marshal.dumps(compile("pass", "<string>", "exec")) for i in range(50)
    }
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(_header() + marshal.dumps(old))
    monkeypatch.setattr(dataclass_code, "MAX_ENTRIES", 40)
    with dataclass_code.cached(write=True):
        _make_classes()
    kept = marshal.loads(cache_file.read_bytes()[len(_header()) :])
    assert kept and set(kept) == set(dataclass_code._used) and not set(kept) & set(old)


def test_a_frozen_program_keeps_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dataclass_code.cache_path() is not None
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert dataclass_code.cache_path() is None


_IMPORT_VERIFIER = """
import sys
from pathlib import Path
import agent.cli.verify
import agent.cli.dataclass_code as d
d.cache_path = lambda: Path(sys.argv[1])
compiled = []
d.compile = lambda *a: compiled.append(a) or compile(*a)  # found before the built-in
from agent.cli.pyhanko_import import import_lean
import_lean("stamping.pdf.verify")
print(len(compiled), len(d._used))
"""


def test_the_installation_step_covers_the_verifier_of_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "dataclass_code.code"
    # Without the file every method the verifier's imports define is compiled, as before.
    res = run_python(_IMPORT_VERIFIER, str(path), unset=("PYTHONDONTWRITEBYTECODE",))
    assert res.returncode == 0, res.stderr
    compiled, used = map(int, res.stdout.split())
    assert compiled == used > 300
    path.unlink()  # written by that run, as bytecode is
    build = "import sys\nfrom pathlib import Path\nimport agent.cli.dataclass_code as d\n"
    build += "d.cache_path = lambda: Path(sys.argv[1])\nsys.exit(d.build())"
    res = run_python(build, str(path))
    assert res.returncode == 0 and path.is_file(), res.stderr
    res = run_python(_IMPORT_VERIFIER, str(path))
    assert res.returncode == 0, res.stderr
    compiled, used = map(int, res.stdout.split())
    assert (compiled, used) == (0, used) and used > 300
