"""The local SealBridge agent: WebSocket service, token drivers, platform client, audit log, CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sealbridge")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
