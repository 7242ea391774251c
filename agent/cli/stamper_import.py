"""Import a stamper without loading aiohttp through pyHanko before something fetches over HTTP.

Two pyHanko modules import aiohttp when they are imported (pyHanko 0.38): the time-stamp client
(pyhanko.sign.timestamps.aiohttp_client, re-exported by pyhanko.sign.timestamps) and the certificate
validator's fetchers (pyhanko_certvalidator.fetchers.aiohttp_fetchers, named by the AdES validation
module). Importing aiohttp builds two TLS contexts: 0.1-0.2 s of every `sealbridge stamp`, on the path
the stamp waits for, although stamping fetches nothing (SealBridge's TSA client is agent/tsa_client.py,
on urllib; pyHanko's own code defers its default fetcher for the same reason).

So in a process that has not loaded pyHanko yet, a stand-in takes each of those modules' place while the
stamper is imported, and is gone afterwards. What the stand-ins handed out loads the real thing when it
is first used: pyhanko.sign.timestamps gets its names back through a module __getattr__ (PEP 562), so
`from pyhanko.sign.timestamps import HTTPTimeStamper` is the real class; a name another module bound is a
proxy that imports the real class when called. If the import fails with the stand-ins in place, it is
done again without them. A process that already loaded pyHanko or aiohttp imports the stamper as it is.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

# module -> the names importers take from it
_DEFERRED = {
    "pyhanko.sign.timestamps.aiohttp_client": ("HTTPTimeStamper", "AIOHttpTimeStamper"),
    "pyhanko_certvalidator.fetchers.aiohttp_fetchers": ("AIOHttpFetcherBackend",),
}
_REEXPORTER = "pyhanko.sign.timestamps"
_ALREADY_LOADED = ("pyhanko.sign", "pyhanko_certvalidator", "aiohttp")
_LOCK = threading.Lock()


class Deferred:
    """A name from a deferred module: calling it (or reading an attribute) imports the real module."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def real(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.real()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.real(), attr)

    def __repr__(self) -> str:
        return f"<deferred {self.module}.{self.name}>"


def import_stamper(name: str) -> types.ModuleType:
    """importlib.import_module(name), with pyHanko's aiohttp modules deferred when pyHanko is not loaded."""
    with _LOCK:
        if any(m in sys.modules for m in _ALREADY_LOADED):
            return importlib.import_module(name)
        stand_ins = {module: _stand_in(module, names) for module, names in _DEFERRED.items()}
        sys.modules.update(stand_ins)
        try:
            return importlib.import_module(name)
        except ImportError:
            _remove(stand_ins)
            return importlib.import_module(name)  # whatever failed is imported for real this time
        finally:
            _remove(stand_ins)


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    stand_in = types.ModuleType(module, "stand-in while the module is deferred (agent/cli/stamper_import.py)")
    for name in names:
        setattr(stand_in, name, Deferred(module, name))
    return stand_in


def _remove(stand_ins: dict[str, types.ModuleType]) -> None:
    for module, stand_in in stand_ins.items():
        if sys.modules.get(module) is stand_in:
            del sys.modules[module]
    reexporter = sys.modules.get(_REEXPORTER)
    if reexporter is None:
        return
    for key, value in list(vars(reexporter).items()):
        if isinstance(value, Deferred) or value in stand_ins.values():
            delattr(reexporter, key)
    reexporter.__getattr__ = _reexported  # type: ignore[attr-defined]


def _reexported(name: str) -> Any:
    """pyhanko.sign.timestamps' names from its deferred client, loaded on first use."""
    client = "pyhanko.sign.timestamps.aiohttp_client"
    module = importlib.import_module(client)
    if name == "aiohttp_client":
        return module
    if name in _DEFERRED[client]:
        value = getattr(module, name)
        setattr(sys.modules[_REEXPORTER], name, value)
        return value
    raise AttributeError(f"module {_REEXPORTER!r} has no attribute {name!r}")
