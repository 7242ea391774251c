"""OFD packages (GB/T 33190): bounded reading, hardened XML, the signature model, text positions, writing.

The names below are loaded on first use: importing a light submodule (formats.ofd.limits, which every
document sniffer reads) must not pull in lxml and the whole reader."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "OfdDocument": "document",
    "Page": "document",
    "load_document": "document",
    "DEFAULT_PACKAGE_LIMITS": "limits",
    "PackageLimits": "limits",
    "OfdPackage": "package",
    "SM3_CHECK_METHODS": "signatures",
    "Reference": "signatures",
    "SignatureEntry": "signatures",
    "SignatureXml": "signatures",
    "StampAnnot": "signatures",
    "protects": "signatures",
    "read_signature_list": "signatures",
    "read_signature_xml": "signatures",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
