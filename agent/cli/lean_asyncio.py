"""asyncio imported without the ssl module, which asyncio then imports the first time it uses it.

pyHanko imports asyncio, and three of asyncio's modules import ssl as they load (base_events,
selector_events, sslproto: `try: import ssl`). ssl loads OpenSSL's TLS library and turns its constants
into enums: ~5 ms of `sealbridge verify`, which speaks no TLS.

import_asyncio() imports asyncio while `import ssl` fails on this thread only (a finder first on
sys.meta_path refuses it; other threads import ssl as usual), so those modules bind ssl = None. Each is
then given _SSLOnFirstUse in its place. The first name asked of that imports the real ssl and makes each
module what it would have been with ssl there: its `ssl` is the real module, and the names it defines
only when ssl is there (sslproto's SSLAgainErrors) are taken from a copy of the module run again with
ssl. asyncio's own checks (`if ssl is None: raise RuntimeError(...)`) see a module, so TLS through
asyncio (aiohttp's HTTPS to the platform) works as before. Where ssl or asyncio is loaded already,
nothing here changes anything.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_LOCK = threading.RLock()  # re-entrant: running a module copy again (_complete) may ask for ssl itself
#: The asyncio modules holding the stand-in instead of ssl (emptied once ssl is loaded).
_GIVEN: list[types.ModuleType] = []


class _NoSSLOnThisThread:
    """A finder for sys.meta_path that refuses `import ssl` on the thread that made it (asyncio's modules
    then go without it). Not an importlib.abc.MetaPathFinder: that module alone costs ~10 ms to import."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname in ("ssl", "_ssl") and threading.get_ident() == self.thread:
            raise ImportError(f"{fullname} is loaded on first use (agent/cli/lean_asyncio.py)", name=fullname)
        return None


class _SSLOnFirstUse(types.ModuleType):
    """Where asyncio's modules expect ssl: any name asked of it loads the real ssl (real_ssl())."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real_ssl(), name)


STAND_IN = _SSLOnFirstUse("ssl", "ssl, loaded when asyncio first uses it (agent/cli/lean_asyncio.py)")


def import_asyncio() -> None:
    """Import asyncio (if it is not loaded yet) with ssl left for its first use."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        import asyncio  # noqa: F401 - as usual: ssl is there already, or asyncio was loaded without this

        return
    finder = _NoSSLOnThisThread()
    sys.meta_path.insert(0, finder)
    try:
        import asyncio  # noqa: F401
    except ImportError:
        pass  # one of its modules needs ssl outright: those without it get the stand-in, the rest load below
    finally:
        sys.meta_path.remove(finder)
    with _LOCK:
        for name, module in list(sys.modules.items()):
            if (
                name.startswith("asyncio.")
                and module is not None
                and vars(module).get("ssl", STAND_IN) is None
            ):
                module.ssl = STAND_IN
                _GIVEN.append(module)
    import asyncio  # noqa: F401, F811 - for real, if the first attempt failed


def real_ssl() -> types.ModuleType:
    """The ssl module, loaded now if need be, and put in place in every asyncio module that went without."""
    import ssl

    with _LOCK:
        while _GIVEN:
            module = _GIVEN.pop()
            _complete(module, ssl)
    return ssl


def _complete(module: types.ModuleType, ssl: types.ModuleType) -> None:
    """`module` as it would have been loaded with ssl: the names it defines only then, from a copy of it
    run again now that ssl can be imported (the copy is dropped: classes and functions stay the ones
    everybody already holds)."""
    spec = module.__spec__
    if spec is not None and spec.loader is not None:
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        for name, value in vars(copy).items():
            if name not in vars(module):
                setattr(module, name, value)
    module.ssl = ssl
