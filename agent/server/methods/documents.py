"""Document helpers for the methods: format by content (never by name), page counts, the format modules."""

from __future__ import annotations

import importlib
import io
import zipfile
from types import ModuleType
from typing import Any

from formats.errors import SealBridgeError


def sniff_format(data: bytes) -> str:
    """ "pdf" when `%PDF-` appears in the first KiB (as readers accept), "ofd" for a ZIP holding OFD.xml."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
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
    try:
        from formats.ofd import OfdPackage, load_document
    except ImportError:
        return _ofd_page_count(data)
    return len(load_document(OfdPackage(data)).pages)  # raises DOC_MALFORMED on a broken package


def _ofd_page_count(data: bytes) -> int | None:
    """Count <Page> entries of the first document's Document.xml (element names, any namespace)."""
    from lxml import etree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {n.lstrip("/"): n for n in zf.namelist()}
            ofd_xml = zf.read(names.get("OFD.xml") or names["ofd.xml"])
            root = etree.fromstring(ofd_xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
            doc_root = next((e.text for e in root.iter() if etree.QName(e).localname == "DocRoot"), None)
            if not doc_root:
                return None
            doc_xml = zf.read(names[doc_root.strip().lstrip("/")])
            droot = etree.fromstring(doc_xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
            return sum(1 for e in droot.iter() if etree.QName(e).localname == "Page")
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError, ValueError):
        return None


def preload() -> None:
    """Import the format modules (pyHanko, lxml…) ahead of the first request, off the event loop."""
    for fmt in ("pdf", "ofd"):
        try:
            format_function(fmt, "stamp")
            format_function(fmt, "verify")
        except SealBridgeError:
            pass
