"""Import a SealBridge module that uses pyHanko without loading the parts of pyHanko it never uses.

One command runs per `sealbridge` process, and its start-up is on the path the user waits for. pyHanko
0.38 loads much more than a command needs, through two kinds of import:

- Package initialisers. `pyhanko.sign/__init__.py` imports `pyhanko.sign.signers`, whose initialiser
  imports the whole signing side (pdf_signer, functions, the time-stamp client...). Any import of a
  submodule runs them first, so `import pyhanko.sign.validation` in a verifier costs the signer too.
  Here those two packages get a module whose initialiser has not run yet (`_DeferredInit`): a submodule
  (`pyhanko.sign.diff_analysis`) imports as usual, and the first look-up of any other name
  (`pyhanko.sign.PdfSigner`, `from pyhanko.sign.signers import Signer`, `__all__`) runs the real
  initialiser there and then, so it is exactly the package pyHanko defines from that moment on.
- aiohttp. The time-stamp client (pyhanko.sign.timestamps.aiohttp_client, re-exported by
  pyhanko.sign.timestamps) and the certificate fetchers (pyhanko_certvalidator.fetchers.aiohttp_fetchers,
  named by the AdES validation module) import aiohttp, which builds two TLS contexts (0.1-0.2 s); neither
  stamping nor verifying fetches anything (SealBridge's TSA client is agent/tsa_client.py, on urllib).
  Likewise cryptography's PKCS#12 loader, which pyhanko.pdf_utils.crypt.pubkey imports to open key files
  for decrypting public-key encrypted PDFs, and which loads cryptography.x509 and the email package (~25 ms).
  And uuid and tzlocal, which pyHanko's content and metadata modules name for writing (uuid4() for a
  resource's name, get_localzone() for a date), and which load platform and zoneinfo (~8 ms).
  While the module is imported a stand-in takes each of their places, and is gone afterwards: what the
  stand-ins handed out loads the real thing when first used. pyhanko.sign.timestamps gets its names back
  through a module __getattr__ (PEP 562), so `from pyhanko.sign.timestamps import HTTPTimeStamper` is the
  real class; a name another module bound is a proxy that imports the real class when called.
- ssl, which asyncio (imported by pyHanko) imports as it loads (~5 ms): asyncio is imported first, through
  agent/cli/lean_asyncio.py, which has it load ssl the first time it needs it (TLS, or a socket call).

If the import fails with any of this in place, the deferred initialisers are run, the stand-ins removed
and the import done again as Python does it. A process that already loaded pyHanko or aiohttp imports as
it is. This depends on pyHanko's layout: tests/agent/test_cli_stamp_start.py and
tests/pdf/test_pdf_cli_verify_start.py show when an upgrade needs it adjusted.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

# module -> the names importers take from it
_DEFERRED = {
    "pyhanko.sign.timestamps.aiohttp_client": ("HTTPTimeStamper", "AIOHttpTimeStamper"),
    "pyhanko_certvalidator.fetchers.aiohttp_fetchers": ("AIOHttpFetcherBackend",),
    "cryptography.hazmat.primitives.serialization.pkcs12": ("load_key_and_certificates",),
    # Named at module level for writing (a resource's random name, a date in the local zone), which a
    # verifier never does: uuid loads platform, tzlocal loads zoneinfo (~8 ms together).
    "uuid": ("uuid4",),
    "tzlocal": ("get_localzone",),
}
_REEXPORTER = "pyhanko.sign.timestamps"
#: Packages whose initialiser waits for the first name asked of it; a parent before its subpackages.
_LAZY_PACKAGES = ("pyhanko.sign", "pyhanko.sign.signers")
_ALREADY_LOADED = ("pyhanko.sign", "pyhanko_certvalidator", "aiohttp")
_LOCK = threading.RLock()  # re-entrant: see Deferred.real


class Deferred:
    """A name from a deferred module: calling it (or reading an attribute) imports the real module."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def real(self) -> Any:
        value = getattr(importlib.import_module(self.module), self.name)
        if isinstance(value, Deferred):
            # The stand-in itself: an import_lean() on another thread (the CLI stamp loads its stamper
            # beside the token login) still has it in sys.modules, and takes it out before it lets go of
            # the lock. On this very thread (a deferred name used while pyHanko loads) the lock is this
            # thread's own: import_lean then imports as Python does.
            with _LOCK:
                value = getattr(importlib.import_module(self.module), self.name)
            if isinstance(value, Deferred):
                raise ImportError(f"{self.module}.{self.name} is used while pyHanko loads")
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.real()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.real(), attr)

    def __repr__(self) -> str:
        return f"<deferred {self.module}.{self.name}>"


class _DeferredInit(types.ModuleType):
    """A package whose __init__ runs on the first look-up of a name that is not one of its submodules.

    Only failed look-ups reach __getattr__: names the package already holds (its submodules once
    imported, __path__, __spec__...) are found as usual. Once the initialiser has run the module is a
    plain module again."""

    def __getattr__(self, attr: str) -> Any:
        if _is_submodule(self, attr):
            return importlib.import_module(f"{self.__name__}.{attr}")
        materialise(self)
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None


# module name -> lock held while its initialiser runs (re-entrant: the initialiser's own imports look
# names up in the package that is being initialised, as in any partially initialised module)
_INIT_LOCKS: dict[str, threading.RLock] = {}
_RUNNING: set[str] = set()


def materialise(module: types.ModuleType) -> None:
    """Run a deferred package's real initialiser now (a no-op for any other module)."""
    lock = _INIT_LOCKS.get(module.__name__)
    if lock is None:
        return
    with lock:
        if type(module) is not _DeferredInit or module.__name__ in _RUNNING:
            return  # done meanwhile, or this thread is inside the initialiser (names not bound yet)
        _RUNNING.add(module.__name__)
        try:
            spec = module.__spec__
            assert spec is not None and spec.loader is not None
            spec.loader.exec_module(module)
            module.__class__ = types.ModuleType
        finally:
            _RUNNING.discard(module.__name__)


def _is_submodule(package: types.ModuleType, attr: str) -> bool:
    if attr.startswith("__") or not attr.isidentifier():
        return False
    try:
        return importlib.util.find_spec(f"{package.__name__}.{attr}") is not None
    except (ImportError, ValueError):
        return False


def import_lean(name: str) -> types.ModuleType:
    """importlib.import_module(name), without what pyHanko loads that `name` does not use (see above)
    when pyHanko is not loaded yet."""
    from agent.cli.dataclass_code import cached
    from agent.cli.lean_asyncio import import_asyncio

    with _LOCK, cached():
        if any(m in sys.modules for m in _ALREADY_LOADED):
            return importlib.import_module(name)
        import_asyncio()  # which pyHanko imports: without ssl until TLS is used
        lazy = _defer_package_inits()
        # Never for a module already loaded: its importers have the real one, and so must later ones.
        stand_ins = {m: _stand_in(m, names) for m, names in _DEFERRED.items() if m not in sys.modules}
        sys.modules.update(stand_ins)
        try:
            return importlib.import_module(name)
        except Exception:  # noqa: BLE001 - whatever broke, the plain import below meets it too or succeeds
            _remove(stand_ins)
            for package in lazy:
                materialise(package)
            return importlib.import_module(name)  # whatever failed is imported for real this time
        finally:
            _remove(stand_ins)


def _defer_package_inits() -> list[types.ModuleType]:
    """Put the packages of _LAZY_PACKAGES in sys.modules with their initialisers not run yet. If one
    cannot be set up it and its subpackages import as usual."""
    lazy: list[types.ModuleType] = []
    for name in _LAZY_PACKAGES:
        parent_name, _, child = name.rpartition(".")
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            break
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            break
        if not hasattr(spec.loader, "exec_module"):
            break
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _DeferredInit
        _INIT_LOCKS.setdefault(name, threading.RLock())
        sys.modules[name] = module
        setattr(sys.modules[parent_name], child, module)  # as the import system binds a submodule
        lazy.append(module)
    return lazy


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    stand_in = types.ModuleType(module, "stand-in while the module is deferred (agent/cli/pyhanko_import.py)")
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
