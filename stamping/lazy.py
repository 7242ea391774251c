"""Format packages (stamping.pdf, stamping.ofd) export `stamp` and `verify` functions named like their own
submodules; loading them eagerly made every verification import the whole stamper (pyHanko's signer, its
HTTP clients). `export_functions` loads each on first use instead and keeps what the package exposes exactly
as before: the function, never the submodule the import system would bind over it."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _FunctionPackage(types.ModuleType):
    def __getattr__(self, name: str) -> Any:  # only for names not loaded yet
        if name not in self.__dict__.get("_exported", ()):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        func = getattr(importlib.import_module(f"{self.__name__}.{name}"), name)
        super().__setattr__(name, func)
        return func

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_exported", ()) and isinstance(value, types.ModuleType):
            return  # importing submodule `name` binds it on the package: the function stays exposed
        super().__setattr__(name, value)


def export_functions(package: str, *names: str) -> None:
    """Make `package.NAME` the function NAME of submodule `package.NAME`, imported on first access."""
    module = sys.modules[package]
    module.__class__ = _FunctionPackage
    module.__dict__["_exported"] = frozenset(names)
