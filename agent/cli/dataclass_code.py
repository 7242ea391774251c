"""Keep the code of the methods @dataclass writes, compiled, from one run of a command to the next.

The dataclasses module makes each class's __init__, __repr__, __eq__... by writing their source text and
compiling it with exec(), every time the class is defined, so in every new process: a `.pyc` keeps a
module's own code but not this. pyHanko, its certificate validator and SealBridge define about 120
dataclasses on the way to verifying a PDF; compiling their 670 methods is about 100 ms of the 250 ms the
imports take, in a command whose start-up the user waits for (`sealbridge verify FILE`).

While cached() is active the dataclasses module finds, in place of the built-in exec, one that compiles
each source text once and then takes its code from this cache. The code is the same either way: exec()
of a text compiles it exactly as compile(text, "<string>", "exec") does, and the methods are then made
from that code with the class's own globals and values, as before. Outside cached() dataclasses is
untouched.

The cache is a file beside this module's bytecode (importlib.util.cache_from_source): one marshal'd dict,
from a digest of each source text to its code, itself marshal'd (a command unmarshals only the methods it
makes, and drops those bytes once it has), behind a header naming this interpreter's bytecode version.
It is written, whole and atomically, when a run compiled something it did not have, under the same rule
as bytecode (not when sys.dont_write_bytecode is set; nothing is said if the place is not writable); an
installation makes it when it byte-compiles (`python -m agent.cli.dataclass_code`, run by `make venv` and
the Debian package build). A file that is missing, unreadable or of another interpreter is the same as an
empty one: methods are compiled as usual. It is trusted as the `.pyc` files beside it are: whoever can
write there can change the program's bytecode already.
"""

from __future__ import annotations

import contextlib
import marshal
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_HEADER = b"SealBridge dataclass code\n"  # then this interpreter's bytecode version (_header())
#: Beyond this many texts the file is rewritten with only what the current run used (upgrades add texts).
MAX_ENTRIES = 8192

_lock = threading.RLock()
_depth = 0
#: digest -> marshal'd code, as read from the file, less what was used (once made, a method's code lives on
#: in the method; the bytes it came from are dropped, and saving reads the file again)
_loaded: dict[bytes, bytes] | None = None
_used: dict[bytes, types.CodeType] = {}  # every text this process made methods of (texts repeat), its code
_added: dict[bytes, types.CodeType] = {}  # those of them compiled here: what the file lacks


def cache_path() -> Path | None:
    """Where the cache lives, or None where this interpreter keeps no bytecode caches (nor a frozen
    program, whose modules live in its archive: the file would go to its unpacking directory, gone at exit)."""
    if getattr(sys, "frozen", False):
        return None
    import importlib.util

    try:
        return Path(importlib.util.cache_from_source(__file__)).with_suffix(".code")
    except (NotImplementedError, ValueError):
        return None


def _header() -> bytes:
    import importlib.util

    return _HEADER + importlib.util.MAGIC_NUMBER


def _key(source: str) -> bytes:
    try:
        from _blake2 import blake2b  # hashlib's own BLAKE2, without hashlib loading OpenSSL first
    except ImportError:
        from hashlib import blake2b
    return blake2b(source.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _read(path: Path | None) -> dict[bytes, bytes]:
    if path is None:
        return {}
    try:
        blob = path.read_bytes()
    except OSError:
        return {}
    header = _header()
    if not blob.startswith(header):
        return {}
    try:
        table = marshal.loads(memoryview(blob)[len(header) :])
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if type(k) is bytes and type(v) is bytes}


def _code_for(source: str) -> types.CodeType:
    global _loaded
    key = _key(source)
    with _lock:
        if _loaded is None:
            _loaded = _read(cache_path())
        code = _used.get(key)
        if code is None:
            code = _unmarshal(_loaded.pop(key, None))
            if code is None:
                code = _added[key] = compile(source, "<string>", "exec")
            _used[key] = code
    return code


def _unmarshal(blob: bytes | None) -> types.CodeType | None:
    if blob is None:
        return None
    try:
        code = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        return None
    return code if type(code) is types.CodeType else None


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:  # noqa: A002
    """exec() as dataclasses calls it, with a text's code taken from the cache."""
    if type(source) is str:
        source = _code_for(source)
    if globals is None:  # as exec() itself: the caller's namespaces, not this module's
        caller = sys._getframe(1)
        globals, locals = caller.f_globals, caller.f_locals if locals is None else locals  # noqa: A001
    exec(source, globals, locals)  # noqa: S102 - the text dataclasses wrote, compiled as exec() would


@contextlib.contextmanager
def cached(*, write: bool | None = None) -> Iterator[None]:
    """Within: dataclasses compiles each method text once for good (see above). On leaving the outermost
    one, what was compiled is saved (`write`: whether to save; by default unless sys.dont_write_bytecode)."""
    global _depth
    import dataclasses

    with _lock:
        _depth += 1
        if _depth == 1:
            dataclasses.exec = _exec  # type: ignore[attr-defined]  # found before the built-in
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if vars(dataclasses).get("exec") is _exec:
                    del dataclasses.exec  # type: ignore[attr-defined]
                if _added and (not sys.dont_write_bytecode if write is None else write):
                    save()


def save() -> bool:
    """Write the cache now (what was read, and what this process compiled); whether it was written."""
    global _loaded
    path = cache_path()
    with _lock:
        if path is None or not _added:
            return False
        table = {**_read(path), **(_loaded or {}), **{k: marshal.dumps(v) for k, v in _added.items()}}
        if len(table) > MAX_ENTRIES:
            table = {k: v for k, v in table.items() if k in _used}
        blob = _header() + marshal.dumps(table)
        from formats.errors import SealBridgeError
        from stamping.fileout import atomic_write

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, blob, 0o644)  # as bytecode: readable by whoever runs the program
        except (OSError, SealBridgeError):
            return False  # a read-only installation: the methods are compiled each time, as without it
        _added.clear()
        _loaded = {k: v for k, v in table.items() if k not in _used}
        return True


def build() -> int:
    """Fill the cache with what the agent's commands compile at start-up (an installation's byte-compile step)."""
    import importlib

    from agent.cli import COMMANDS
    from agent.cli.pyhanko_import import import_lean

    with cached(write=False):
        for module in dict.fromkeys(COMMANDS.values()):
            importlib.import_module(f"agent.cli.{module}")
        for module in (
            "stamping.pdf.verify",
            "stamping.pdf.stamp",
            "stamping.ofd.verify",
            "stamping.ofd.stamp",
        ):
            import_lean(module)
    with _lock:
        if not _added:
            return 0
    return 0 if save() else 1


if __name__ == "__main__":
    from agent.cli import dataclass_code  # the module import_lean uses, not this __main__ copy of it

    sys.exit(dataclass_code.build())
