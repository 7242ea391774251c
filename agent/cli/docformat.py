"""Shared by `stamp` and `verify`: read a document within limits and pick the format module by content."""

from __future__ import annotations

import importlib
import io
import zipfile
from pathlib import Path
from types import ModuleType

from formats.errors import SealBridgeError
from formats.limits import MAX_DOCUMENT_BYTES


def read_document(path: str | Path) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SealBridgeError("DOC_TOO_LARGE", f"{p} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
        return p.read_bytes()
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {p}: {exc.strerror}") from None


def sniff(data: bytes) -> str:
    """'pdf' or 'ofd' by content, never by file name."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise SealBridgeError("DOC_MALFORMED", "damaged zip package") from None
        if any(n.lower() == "ofd.xml" for n in names):
            return "ofd"
        raise SealBridgeError("DOC_UNSUPPORTED", "a zip file without OFD.xml is not an OFD document")
    raise SealBridgeError("DOC_UNSUPPORTED", "neither PDF nor OFD")


def format_module(fmt: str) -> ModuleType:
    name = f"stamping.{fmt}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise SealBridgeError(
                "DOC_UNSUPPORTED", f"{fmt.upper()} support is not available in this build"
            ) from None
        raise
