"""Every signature dictionary of a PDF, from the parse pyHanko's reader has made already.

The same walk as stamping.pdf.sigscan (which reads the file with pikepdf, a second parse and ~30 ms of
imports before the first byte is checked): the /AcroForm field tree, then the signature widgets hung on a
page but missing from /Fields, each with its SubFilter, /ByteRange, widget pages and field reference.

Only for a document whose structure is plain: anything the pikepdf walk would have to repair or might read
differently (a page tree that loops or holds no page dictionaries, an encrypted file) raises
Unusual, and the caller falls back to the pikepdf scan, so a verdict never depends on which scan ran.
A dictionary with a key defined twice is such a thing: pyHanko keeps the first definition, qpdf the last
(a damaged file's /V may be a signature to one and a name to the other). pyHanko only logs it, so
duplicate_keys() listens to that log while the document is read and scanned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping.pdf.scanned import MAX_FIELD_DEPTH, ScannedSignature

#: More page-tree nodes than this is not a document to walk here (the pikepdf scan has its own limits).
_MAX_PAGE_NODES = 100_000
_MAX_PAGE_DEPTH = 64

Ref = tuple[int, int]


class Unusual(Exception):
    """The document's structure is not plain enough for this walk: use the pikepdf scan."""


_listening = threading.local()  # per thread: the agent verifies on several at once


class _DuplicateKeys(logging.Filter):
    """Counts pyHanko's "Multiple definitions in dictionary" warnings for the thread that listens."""

    def filter(self, record: logging.LogRecord) -> bool:
        heard = getattr(_listening, "heard", None)
        if heard is not None and str(record.msg).startswith("Multiple definitions in dictionary"):
            heard.append(record.getMessage())
        return True


logging.getLogger(generic.__name__).addFilter(_DuplicateKeys())


@contextmanager
def duplicate_keys() -> Iterator[list[str]]:
    """A list that fills with pyHanko's warnings of a key defined twice in a dictionary it reads on this
    thread, inside the block."""
    heard: list[str] = []
    outer = getattr(_listening, "heard", None)
    _listening.heard = heard
    try:
        yield heard
    finally:
        _listening.heard = outer


def scan_parsed(reader: PdfFileReader) -> list[ScannedSignature]:
    if reader.encrypt_dict is not None:
        raise Unusual("encrypted")
    root = reader.root
    page_numbers = _page_numbers(root)
    found: list[ScannedSignature] = []
    seen: set[Ref] = set()
    acroform = _get(root, "/AcroForm")[0]
    fields = _get(acroform, "/Fields")[0] if isinstance(acroform, generic.DictionaryObject) else None
    if isinstance(fields, generic.ArrayObject):
        for i in range(len(fields)):
            field, ref = _deref(fields.raw_get(i))
            _walk_field(field, ref, "", found, seen, page_numbers, 0)
    for number, (page, _) in enumerate(page_numbers.pages, start=1):
        annots = _get(page, "/Annots")[0]
        if not isinstance(annots, generic.ArrayObject):
            continue
        for i in range(len(annots)):
            annot, ref = _deref(annots.raw_get(i))
            if isinstance(annot, generic.DictionaryObject) and _get(annot, "/FT")[0] == "/Sig":
                name = _text(_get(annot, "/T")[0]) or f"(page {number} widget)"
                _take(annot, ref, name, found, seen, page_numbers)
    return found


class _Pages:
    """The pages in document order, and each page's number by its reference."""

    def __init__(self) -> None:
        self.pages: list[tuple[generic.DictionaryObject, Ref | None]] = []
        self.numbers: dict[Ref, int] = {}

    def number(self, ref: Ref | None) -> int | None:
        return self.numbers.get(ref) if ref is not None else None


def _page_numbers(root: generic.DictionaryObject) -> _Pages:
    out = _Pages()
    tree, tree_ref = _get(root, "/Pages")
    if not isinstance(tree, generic.DictionaryObject):
        raise Unusual("no page tree")
    visited: set[Ref] = set()
    stack: list[tuple[Any, Ref | None, int]] = [(tree, tree_ref, 0)]
    while stack:
        node, ref, depth = stack.pop()
        if not isinstance(node, generic.DictionaryObject) or depth > _MAX_PAGE_DEPTH:
            raise Unusual("page tree node")
        if ref is not None:
            if ref in visited:
                raise Unusual("page tree loop")
            visited.add(ref)
        if len(visited) > _MAX_PAGE_NODES:
            raise Unusual("page tree size")
        kind = _get(node, "/Type")[0]
        if kind == "/Pages":
            kids = _get(node, "/Kids")[0]
            if not isinstance(kids, generic.ArrayObject) or not len(kids):
                raise Unusual("page tree kids")
            for i in reversed(range(len(kids))):  # a stack: the first kid comes off first
                kid, kid_ref = _deref(kids.raw_get(i))
                stack.append((kid, kid_ref, depth + 1))
        elif kind == "/Page" and ref is not None:
            out.pages.append((node, ref))
            out.numbers[ref] = len(out.pages)
        else:
            raise Unusual("page tree leaf")
    if not out.pages:
        raise Unusual("no pages")
    return out


def _deref(value: Any) -> tuple[Any, Ref | None]:
    if isinstance(value, generic.IndirectObject):
        return value.get_object(), (value.idnum, value.generation)
    return value, None


def _get(obj: Any, key: str) -> tuple[Any, Ref | None]:
    """(value, its reference when indirect) of a dictionary entry; (None, None) when absent, null (which
    PDF makes the same as absent, and so does pikepdf) or not a dictionary."""
    if not isinstance(obj, generic.DictionaryObject) or key not in obj:
        return None, None
    value, ref = _deref(obj.raw_get(key))
    return (None, None) if isinstance(value, generic.NullObject) else (value, ref)


def _text(value: Any) -> str:
    if isinstance(value, generic.TextStringObject):
        return str(value)
    if isinstance(value, generic.ByteStringObject):
        raise Unusual("a name in bytes")  # how pikepdf would show it is pikepdf's business
    return ""


def _name_or_text(value: Any) -> str:
    """A /SubFilter or /Filter as the pikepdf scan shows it: a name with its slash, a string as its text."""
    if isinstance(value, generic.NameObject | generic.TextStringObject):
        return str(value)
    if value is None:
        return ""
    raise Unusual("a /SubFilter neither name nor text")


def _walk_field(
    fld: Any,
    ref: Ref | None,
    parent_name: str,
    found: list[ScannedSignature],
    seen: set[Ref],
    pages: _Pages,
    depth: int,
) -> None:
    if depth > MAX_FIELD_DEPTH or not isinstance(fld, generic.DictionaryObject):
        return
    part = _text(_get(fld, "/T")[0])
    name = f"{parent_name}.{part}" if parent_name and part else (part or parent_name)
    kind = _get(fld, "/FT")[0]
    if kind == "/Sig" or (kind is None and _is_sig(_get(fld, "/V")[0])):
        _take(fld, ref, name, found, seen, pages)
        return
    kids = _get(fld, "/Kids")[0]
    if isinstance(kids, generic.ArrayObject):
        for i in range(len(kids)):
            kid, kid_ref = _deref(kids.raw_get(i))
            if _get(kid, "/T")[0] is not None:
                _walk_field(kid, kid_ref, name, found, seen, pages, depth + 1)


def _is_sig(value: Any) -> bool:
    return isinstance(value, generic.DictionaryObject) and _get(value, "/Type")[0] in (
        "/Sig",
        "/DocTimeStamp",
    )


def _take(
    fld: generic.DictionaryObject,
    ref: Ref | None,
    name: str,
    found: list[ScannedSignature],
    seen: set[Ref],
    pages: _Pages,
) -> None:
    value, value_ref = _get(fld, "/V")
    if not isinstance(value, generic.DictionaryObject):
        return  # an empty signature field
    key = value_ref or ref or (0, 0)  # pikepdf's objgen of a direct object is (0, 0)
    if key in seen:
        return
    seen.add(key)
    byte_range: tuple[int, ...] = ()
    br = _get(value, "/ByteRange")[0]
    if isinstance(br, generic.ArrayObject):
        items = [br[i] for i in range(len(br))]
        if any(isinstance(v, generic.FloatObject | generic.BooleanObject) for v in items):
            raise Unusual("a /ByteRange of reals")  # how pikepdf's int() takes them is its business
        if all(isinstance(v, int) for v in items):
            byte_range = tuple(int(v) for v in items)
    contents = _get(value, "/Contents")[0]
    found.append(
        ScannedSignature(
            field_name=name,
            subfilter=_name_or_text(_get(value, "/SubFilter")[0]),
            filter=_name_or_text(_get(value, "/Filter")[0]),
            byte_range=byte_range,
            contents_len=_length(contents),
            pages=_widget_pages(fld, pages),
            field_ref=ref,
        )
    )


def _length(contents: Any) -> int:
    if isinstance(contents, generic.ByteStringObject):
        return len(contents)
    if isinstance(contents, generic.TextStringObject):
        return len(contents.original_bytes)
    return 0


def _widget_pages(fld: generic.DictionaryObject, pages: _Pages) -> tuple[int, ...]:
    widgets = [fld]
    kids = _get(fld, "/Kids")[0]
    if isinstance(kids, generic.ArrayObject):
        widgets = [k for i in range(len(kids)) if isinstance(k := kids[i], generic.DictionaryObject)]
    numbers: list[int] = []
    for w in widgets:
        page, page_ref = _get(w, "/P")
        number = pages.number(page_ref) if isinstance(page, generic.DictionaryObject) else None
        if number is not None and number not in numbers:
            numbers.append(number)
    return tuple(numbers)
