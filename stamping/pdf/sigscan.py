"""Every signature dictionary in a PDF, found with pikepdf, whatever its /SubFilter.

The verifier reads a plain document with stamping.pdf.sigfields instead (the same walk over pyHanko's parse);
this scan is for the others: encrypted files, and structures pikepdf repairs or that pyHanko cannot read.

pyHanko drops signatures with a SubFilter it does not know (a vendor's /GM.sm2seal, say) from
`embedded_signatures` with only a log line. This scan lists them all, so the verifier can report those
as indeterminate with the SubFilter named instead of silently leaving them out.
"""

from __future__ import annotations

import io

import pikepdf

from formats.errors import SealBridgeError
from stamping.pdf.pikepdf_text import object_text, pdf_error_text
from stamping.pdf.scanned import MAX_FIELD_DEPTH, ScannedSignature


def scan_signatures(data: bytes) -> list[ScannedSignature]:
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise SealBridgeError("DOC_UNSUPPORTED", "encrypted PDF: a password is needed to read it") from None
    except (pikepdf.PdfError, ValueError) as exc:
        raise SealBridgeError("DOC_MALFORMED", f"not a readable PDF: {pdf_error_text(exc)}") from None
    with pdf:
        page_numbers = {page.objgen: i + 1 for i, page in enumerate(pdf.pages)}
        found: list[ScannedSignature] = []
        seen: set[tuple[int, int]] = set()
        acroform = pdf.Root.get("/AcroForm")
        fields = acroform.get("/Fields") if isinstance(acroform, pikepdf.Dictionary) else None
        if isinstance(fields, pikepdf.Array):
            for fld in fields:
                _walk_field(fld, "", found, seen, page_numbers, 0)
        # Signature widgets that a sloppy producer hung on a page but not in /AcroForm /Fields.
        for number, page in enumerate(pdf.pages, start=1):
            annots = page.obj.get("/Annots")
            if not isinstance(annots, pikepdf.Array):
                continue
            for annot in annots:
                if isinstance(annot, pikepdf.Dictionary) and annot.get("/FT") == "/Sig":
                    _take(
                        annot, _text(annot.get("/T")) or f"(page {number} widget)", found, seen, page_numbers
                    )
    return found


def _text(value: object) -> str:
    return str(value) if isinstance(value, pikepdf.String) else ""


def _walk_field(
    fld: pikepdf.Object,
    parent_name: str,
    found: list[ScannedSignature],
    seen: set[tuple[int, int]],
    page_numbers: dict[tuple[int, int], int],
    depth: int,
) -> None:
    if depth > MAX_FIELD_DEPTH or not isinstance(fld, pikepdf.Dictionary):
        return
    part = _text(fld.get("/T"))
    name = f"{parent_name}.{part}" if parent_name and part else (part or parent_name)
    kids = fld.get("/Kids")
    if fld.get("/FT") == "/Sig" or (fld.get("/FT") is None and "/V" in fld and _is_sig(fld.get("/V"))):
        _take(fld, name, found, seen, page_numbers)
        return
    if isinstance(kids, pikepdf.Array):
        for kid in kids:
            if isinstance(kid, pikepdf.Dictionary) and "/T" in kid:
                _walk_field(kid, name, found, seen, page_numbers, depth + 1)


def _is_sig(value: object) -> bool:
    return isinstance(value, pikepdf.Dictionary) and value.get("/Type") in ("/Sig", "/DocTimeStamp")


def _take(
    fld: pikepdf.Dictionary,
    name: str,
    found: list[ScannedSignature],
    seen: set[tuple[int, int]],
    page_numbers: dict[tuple[int, int], int],
) -> None:
    value = fld.get("/V")
    if not isinstance(value, pikepdf.Dictionary):
        return  # an empty signature field
    key = value.objgen if value.is_indirect else fld.objgen
    if key in seen:
        return
    seen.add(key)
    byte_range: tuple[int, ...] = ()
    br = value.get("/ByteRange")
    if isinstance(br, pikepdf.Array):
        try:
            byte_range = tuple(int(v) for v in br)
        except (TypeError, ValueError):
            byte_range = ()
    contents = value.get("/Contents")
    found.append(
        ScannedSignature(
            field_name=name,
            subfilter=object_text(value.get("/SubFilter", "")),
            filter=object_text(value.get("/Filter", "")),
            byte_range=byte_range,
            contents_len=len(bytes(contents)) if isinstance(contents, pikepdf.String) else 0,
            pages=_widget_pages(fld, page_numbers),
            field_ref=tuple(fld.objgen) if fld.is_indirect else None,
        )
    )


def _widget_pages(fld: pikepdf.Dictionary, page_numbers: dict[tuple[int, int], int]) -> tuple[int, ...]:
    widgets = [fld]
    kids = fld.get("/Kids")
    if isinstance(kids, pikepdf.Array):
        widgets = [k for k in kids if isinstance(k, pikepdf.Dictionary)]
    pages: list[int] = []
    for w in widgets:
        page = w.get("/P")
        number = page_numbers.get(page.objgen) if isinstance(page, pikepdf.Dictionary) else None
        if number is not None and number not in pages:
            pages.append(number)
    return tuple(pages)
