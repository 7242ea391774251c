"""The local SealBridge agent: WebSocket service, token drivers, platform client, audit log, CLI."""

from __future__ import annotations

from functools import cache


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sealbridge")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    # `__version__` is read from the installed metadata only when asked for: importlib.metadata scans
    # sys.path, a cost every command would otherwise pay at start-up.
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
