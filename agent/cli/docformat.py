"""Shared by `stamp` and `verify`: read a document within limits and pick the format module by content."""

from __future__ import annotations

import importlib
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from formats.errors import SealBridgeError

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024  # DESIGN §4: document limit 200 MiB


def read_document(path: str | Path) -> bytes:
    """The bytes of a document file; errors name the file (FILE_NOT_FOUND, DOC_EMPTY, DOC_TOO_LARGE)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise SealBridgeError("BAD_REQUEST", f"{p} is a folder, not a document")
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SealBridgeError("DOC_TOO_LARGE", f"{p} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
        data = p.read_bytes()
    except FileNotFoundError:
        raise SealBridgeError("FILE_NOT_FOUND", str(p)) from None
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {p}: {exc.strerror}") from None
    if not data:
        raise SealBridgeError("DOC_EMPTY", str(p))
    return data


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


@contextmanager
def about_file(path: str | Path) -> Iterator[None]:
    """A document error raised inside names the file it is about (the clerk may have given several)."""
    try:
        yield
    except SealBridgeError as err:
        if err.code.startswith("DOC_") and str(path) not in (err.detail or ""):
            detail = f"{path}: {err.detail or err.message_en}"
            raise SealBridgeError(err.code, detail, err.extra) from None
        raise
