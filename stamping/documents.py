"""The one place that tells a document's format from its bytes and hands out what each format can do.

Every caller (the CLI, the agent's methods, the platform's verify service) sniffs with `sniff()` and calls
the format through `DocumentFormat`, so the limits checked before a format parser sees the bytes are the
same everywhere. Each operation also turns the parsers' last-resort failures into the product's errors: a
document nested deeper than Python's stack (pyHanko, pikepdf and our own readers recurse) is
DOC_MALFORMED, running out of memory is DOC_TOO_LARGE — never a traceback, never exit code 1 ("invalid").
"""

from __future__ import annotations

import decimal
import functools
import io
from collections.abc import Callable
from typing import IO, Any, Protocol, TypeVar

from formats.errors import SealBridgeError
from formats.limits import MAX_DOCUMENT_BYTES  # DESIGN §4: whoever sends it
from formats.pdfhead import is_pdf_head
from stamping.options import StampOptions, StampResult, VerifyOptions
from stamping.report import Report

T = TypeVar("T")


def sniff(data: bytes) -> str:
    """ "pdf" when `%PDF-` is in the first KiB, "ofd" for a ZIP holding OFD.xml — by content, never by name.

    The entries are counted before zipfile builds one ZipInfo per entry (formats/ofd/limits.py): a 200 MiB
    upload can hold millions of them.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SealBridgeError("DOC_TOO_LARGE", f"{len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES}")
    if is_pdf_head(data):
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        return _sniff_zip(data)
    raise SealBridgeError("DOC_UNSUPPORTED", "neither PDF nor OFD (checked by content)")


def _sniff_zip(data: bytes) -> str:
    """ "ofd" for a ZIP holding OFD.xml. zipfile and the OFD limits are loaded here, not with this module: a
    PDF's verification never needs them (~3 ms of `sealbridge verify`)."""
    import struct
    import zipfile

    from formats.ofd.limits import check_entry_count

    check_entry_count(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {n.replace("\\", "/").lstrip("/").lower() for n in zf.namelist()}
    # NotImplementedError: zipfile's word for a ZIP version or feature it does not read.
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError) as exc:
        raise SealBridgeError("DOC_MALFORMED", f"damaged ZIP container: {exc}") from None
    if "ofd.xml" in names:
        return "ofd"
    raise SealBridgeError("DOC_UNSUPPORTED", "a ZIP file without OFD.xml is not an OFD document")


def guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a format operation so that exhausted stack or memory, or a malformed number met deep inside a
    parser, comes out as the product's error."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise SealBridgeError("DOC_MALFORMED", "the document nests objects too deeply to read") from None
        except MemoryError:
            raise SealBridgeError("DOC_TOO_LARGE", "the document does not fit in memory") from None
        except decimal.InvalidOperation:  # pyHanko reading a number that is none (`841..9`), wherever it is
            raise SealBridgeError(
                "DOC_MALFORMED", "the document holds a number that cannot be read"
            ) from None

    return run


class DocumentFormat(Protocol):
    """What every document format offers (stamping/options.py has the argument types)."""

    name: str

    def stamp(
        self, data: bytes, out: IO[bytes], signer: Any, seal_der: bytes, placements: list[Any],
        options: StampOptions | None = None,
    ) -> StampResult: ...  # fmt: skip

    def verify(self, data: bytes, options: VerifyOptions | None = None) -> Report: ...

    def preview(
        self, data: bytes, placements: list[Any], seal: Any, pages: list[int] | None, dpi: int
    ) -> dict[str, Any]: ...

    def page_count(self, data: bytes) -> int: ...


def _pdf_page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise SealBridgeError("DOC_MALFORMED", f"PDF: {exc}") from None
    try:
        return len(pdf)
    finally:
        pdf.close()


def _ofd_page_count(data: bytes) -> int:
    # The bounded reader only (zip limits, hardened XML): no unbounded fallback parser.
    from formats.ofd import OfdPackage, load_document

    return len(load_document(OfdPackage(data)).pages)


def _pdf(operation: str) -> Callable[..., Any]:
    import stamping.pdf

    if operation == "preview":
        from stamping.pdf.preview import render_pdf_preview

        return render_pdf_preview
    return _pdf_page_count if operation == "page_count" else getattr(stamping.pdf, operation)


def _ofd(operation: str) -> Callable[..., Any]:
    import stamping.ofd

    if operation == "preview":
        from stamping.ofd.preview import render_ofd_preview

        return render_ofd_preview
    return _ofd_page_count if operation == "page_count" else getattr(stamping.ofd, operation)


class _Format:
    """A format whose parsers (pyHanko, lxml…) are imported on first use, every operation guarded."""

    def __init__(self, name: str, load: Callable[[str], Callable[..., Any]]) -> None:
        self.name = name
        # Looked up at each call (cheap once loaded), so the current functions are used; each operation
        # imports only its own modules (verifying a PDF never loads the stamper).
        self._load = load

    @guarded
    def stamp(self, data, out, signer, seal_der, placements, options=None):  # type: ignore[no-untyped-def]
        return self._load("stamp")(data, out, signer, seal_der, placements, options)

    @guarded
    def verify(self, data: bytes, options: VerifyOptions | None = None) -> Report:
        return self._load("verify")(data, options)

    @guarded
    def preview(self, data, placements, seal, pages, dpi):  # type: ignore[no-untyped-def]
        return self._load("preview")(data, placements, seal, pages, dpi)

    @guarded
    def page_count(self, data: bytes) -> int:
        return self._load("page_count")(data)

    def preload(self) -> None:
        for operation in ("stamp", "verify", "preview", "page_count"):
            self._load(operation)


#: The formats this build can handle, by the name `sniff()` returns.
FORMATS: dict[str, _Format] = {"pdf": _Format("pdf", _pdf), "ofd": _Format("ofd", _ofd)}


def format_named(name: str) -> DocumentFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise SealBridgeError("DOC_UNSUPPORTED", f"{name.upper()} is not supported by this build") from None


def document_format(data: bytes) -> DocumentFormat:
    """The format of `data`, sniffed by content (raises DOC_UNSUPPORTED / DOC_MALFORMED / DOC_TOO_LARGE)."""
    return format_named(guarded(sniff)(data))


def preload_verifiers() -> None:
    """Import what verifying needs (not the stampers), e.g. before forking worker processes or serving requests
    from worker threads; call it before those threads start."""
    for fmt in FORMATS.values():
        fmt._load("verify")  # noqa: SLF001 - same module
    _settle_asn1()


def preload() -> None:
    """Import the format parsers ahead of the first request, before requests run in worker threads (see
    formats.asn1settle for why that order matters); call it off the event loop."""
    for fmt in FORMATS.values():
        fmt.preload()
    _settle_asn1()


def _settle_asn1() -> None:
    from formats.asn1settle import settle_asn1_classes  # asn1crypto is not needed by `--version` and the like

    settle_asn1_classes()
