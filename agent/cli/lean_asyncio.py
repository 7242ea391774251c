"""asyncio imported without the ssl module, which asyncio then imports the first time it needs it.

pyHanko imports asyncio, and three of asyncio's modules import ssl as they load (base_events,
selector_events, sslproto: `try: import ssl`). ssl loads OpenSSL's TLS library and builds its enums:
~5 ms of `sealbridge verify`, which uses neither TLS nor sockets.

import_asyncio() imports asyncio while `import ssl` fails on this thread only (a finder first on
sys.meta_path refuses it; other threads import ssl as usual), so those modules bind ssl = None. Each is
then given _SSLOnFirstUse in its place. The first name asked of that (TLS, or the check every socket
call of the event loop makes for an SSL socket) imports the real ssl and makes each module what it
would have been with ssl there: its `ssl` is the real module, and sslproto gets SSLAgainErrors, the one
name it defines only when ssl is there (Python 3.11 to 3.13; tests/agent/test_cli_lean_asyncio.py
compares every name with an ordinary import's). asyncio's own checks (`if ssl is None: raise ...`) see a
module, so TLS through asyncio (aiohttp's HTTPS to the platform) works as before.

Where ssl or asyncio is loaded already, or this Python has no ssl, asyncio is imported as usual; so is
it if the import fails with ssl refused (whatever it loaded is dropped first).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_LOCK = threading.Lock()
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


STAND_IN = _SSLOnFirstUse("ssl", "ssl, loaded when asyncio first needs it (agent/cli/lean_asyncio.py)")


def import_asyncio() -> None:
    """Import asyncio (if it is not loaded yet) with ssl left for its first use."""
    if "asyncio" in sys.modules or "ssl" in sys.modules or not _ssl_available():
        import asyncio  # noqa: F401 - as usual: loaded already, ssl is there, or there is no ssl at all

        return
    before = set(sys.modules)
    finder = _NoSSLOnThisThread()
    sys.meta_path.insert(0, finder)
    try:
        import asyncio  # noqa: F401
    except BaseException as exc:
        sys.meta_path.remove(finder)
        # The package does not come back whole from a second import over its loaded submodules: what this
        # attempt loaded of it goes, and the import is done as Python does it (or fails as it would).
        for name in set(sys.modules) - before:
            if name == "asyncio" or name.startswith("asyncio."):
                del sys.modules[name]
        if not isinstance(exc, ImportError):
            raise  # Ctrl-C, say: nothing is left half loaded
        import asyncio  # noqa: F401, F811

        return
    with _LOCK:  # before anything else runs here: another thread may be about to use asyncio
        sys.meta_path.remove(finder)
        for name, module in list(sys.modules.items()):
            if name.startswith("asyncio.") and getattr(module, "__dict__", {}).get("ssl", STAND_IN) is None:
                module.ssl = STAND_IN
                _GIVEN.append(module)


def _ssl_available() -> bool:
    """Has this Python an ssl to load later? (Without one, asyncio goes without it as it always would.)"""
    try:
        return importlib.util.find_spec("_ssl") is not None
    except (ImportError, ValueError):
        return False


def real_ssl() -> types.ModuleType:
    """The ssl module, loaded now if need be, and put in place in every asyncio module that went without."""
    import ssl

    with _LOCK:
        for module in _GIVEN:
            if module.__name__ == "asyncio.sslproto" and "SSLAgainErrors" not in vars(module):
                module.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)
            module.ssl = ssl
        _GIVEN.clear()
    return ssl
