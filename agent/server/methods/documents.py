"""Document helpers for the methods: format by content (never by name), page counts, the format modules."""

from __future__ import annotations

import importlib
import io
import struct
import zipfile
from types import ModuleType
from typing import Any

from formats.errors import SealBridgeError

#: The OFD reader's own entry limit (formats.ofd.limits); checked here from the end record before zipfile
#: builds a ZipInfo per entry, because a 200 MiB upload can declare millions of them.
MAX_ZIP_ENTRIES = 10_000


def _zip_entry_count(data: bytes) -> int | None:
    """The entry count the ZIP end-of-central-directory record (or its ZIP64 form) declares; None if absent."""
    try:
        end = zipfile._EndRecData(io.BytesIO(data))  # noqa: SLF001 - stable since Python 2; no public API
    except (OSError, ValueError, struct.error):
        return None
    return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else None  # noqa: SLF001


def sniff_format(data: bytes) -> str:
    """ "pdf" when `%PDF-` appears in the first KiB (as readers accept), "ofd" for a ZIP holding OFD.xml."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        entries = _zip_entry_count(data)
        if entries is not None and entries > MAX_ZIP_ENTRIES:
            raise SealBridgeError("DOC_TOO_LARGE", f"{entries} zip entries; the limit is {MAX_ZIP_ENTRIES}")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = {n.lstrip("/").lower() for n in zf.namelist()[:10000]}
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise SealBridgeError("DOC_MALFORMED", f"damaged ZIP container: {exc}") from None
        if "ofd.xml" in names:
            return "ofd"
        raise SealBridgeError("DOC_UNSUPPORTED", "a ZIP file without OFD.xml is not an OFD document")
    raise SealBridgeError("DOC_UNSUPPORTED", "neither PDF nor OFD (checked by content)")


def format_module(fmt: str) -> ModuleType:
    try:
        return importlib.import_module(f"stamping.{fmt}")
    except ModuleNotFoundError as exc:
        raise SealBridgeError(
            "DOC_UNSUPPORTED", f"{fmt.upper()} support is not available in this build"
        ) from exc


def format_function(fmt: str, name: str) -> Any:
    """`stamping.<fmt>.<name>`, or the function of that name in the module `stamping.<fmt>.<name>`."""
    fn = getattr(format_module(fmt), name, None)
    if fn is None or not callable(fn):
        try:
            fn = getattr(importlib.import_module(f"stamping.{fmt}.{name}"), name, None)
        except ModuleNotFoundError:
            fn = None
    if fn is None:
        raise SealBridgeError("DOC_UNSUPPORTED", f"{fmt.upper()} {name} is not available in this build")
    return fn


def page_count(data: bytes, fmt: str) -> int | None:
    """Pages, for the approval window and the page limit; None when the format has no cheap count."""
    if fmt == "pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise SealBridgeError("DOC_MALFORMED", f"PDF: {exc}") from None
        try:
            return len(pdf)
        finally:
            pdf.close()
    # The bounded reader only (zip limits, hardened XML): no unbounded fallback parser.
    from formats.ofd import OfdPackage, load_document

    return len(load_document(OfdPackage(data)).pages)  # raises DOC_MALFORMED on a broken package


def preload() -> None:
    """Import the format modules (pyHanko, lxml…) ahead of the first request, off the event loop."""
    for fmt in ("pdf", "ofd"):
        try:
            format_function(fmt, "stamp")
            format_function(fmt, "verify")
        except SealBridgeError:
            pass
