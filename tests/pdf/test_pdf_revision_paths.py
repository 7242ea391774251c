"""Signed revisions mapped without copies (stamping/pdf/revisionpaths.py).

The map of the paths to every object of a revision, which pyHanko's difference analysis asks of each signed
revision, is the one pyHanko's own mapping makes: for documents of many shapes (a nested page tree, links
across pages, a structure tree, outlines, cycles, a reference to a reference, object streams, classic and
stream cross-references, revisions added by pyHanko, by SealBridge and by hand) and for every revision of
each. Where pyHanko's mapping fails this one gives up too, and pyHanko's own then runs; likewise beyond its
limits, for what pyHanko's copy of an object refuses or may later change, for hybrid-reference and
encrypted documents, and with little stack left; a walk that gives up leaves the reader as it was. Whole
verification reports are the ones pyHanko's own mapping gives.
"""

from __future__ import annotations

import inspect
import io
import re
import zlib
from collections.abc import Callable
from typing import Any

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

from stamping.pdf import revisionpaths, verify
from stamping.pdf.sm2_pyhanko import register_oids
from stamping.placement import At
from tests.support.pdf_flows import pyhanko_sign, stamp_pdf, trusting
from tests.support.pdf_maker import contract_pdf

register_oids()
PYHANKO_MAPPING = HistoricalResolver._load_reverse_xref_cache  # pyHanko's own, untouched


# -- documents ---------------------------------------------------------------------------------------------


def _shaped(object_streams: bool) -> bytes:
    """Three pages in a nested page tree, links across them (with /P back to their page), a structure tree
    (a single /K child, elements with and without /Type, a marked-content reference, an object reference,
    /P back-pointers, a parent tree), outlines whose entries point at each other, a cycle of references
    outside any tree, nested arrays and a null."""
    pdf = pikepdf.new()
    content = pdf.make_stream(b"BT /F1 12 Tf 72 720 Td (x) Tj ET")
    root_pages = pdf.Root.Pages
    inner = pdf.make_indirect(Dictionary(Type=Name.Pages, Parent=root_pages, Count=2))

    def page(parent: Any) -> Any:
        return pdf.make_indirect(
            Dictionary(
                Type=Name.Page,
                Parent=parent,
                MediaBox=Array([0, 0, 595, 842]),
                Contents=content,
                Resources={},
            )
        )

    p1, p2, p3 = page(inner), page(inner), page(root_pages)
    inner.Kids = Array([p1, p2])
    root_pages.Kids = Array([inner, p3])
    root_pages.Count = 3
    link = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 9, 9]), Dest=Array([p3, Name.Fit]), P=p1
        )
    )
    back = pdf.make_indirect(
        Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([9, 9, 19, 19]), Dest=Array([p1, Name.Fit]))
    )
    p1.Annots = Array([link, back])
    p3.Annots = Array(
        [
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=Array([1, 1, 2, 2]),
                    P=p3,
                    Dest=Array([inner, Name.Fit]),
                )
            )
        ]
    )

    tree = pdf.make_indirect(Dictionary(Type=Name.StructTreeRoot))
    document = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document, P=tree))
    para1 = pdf.make_indirect(
        Dictionary(
            Type=Name.StructElem,
            S=Name.P,
            P=document,
            Pg=p1,
            K=Array([0, Dictionary(Type=Name.MCR, MCID=1, Pg=p2)]),
        )
    )
    para2 = pdf.make_indirect(Dictionary(S=Name.P, P=document, Pg=p3, K=2))  # no /Type: a StructElem still
    attributes = pdf.make_indirect(Dictionary(O=Name.Layout, Placement=Name.Block))
    span = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Span, P=para2, K=3, A=attributes))
    para2.K = Array([2, span])
    document.K = Array([para1, para2, Dictionary(Type=Name.OBJR, Obj=link, Pg=p1)])
    tree.K = document  # one child: not an array
    tree.ParentTree = pdf.make_indirect(Dictionary(Nums=Array([0, Array([para1, para2, span])])))
    pdf.Root.StructTreeRoot = tree
    pdf.Root.MarkInfo = Dictionary(Marked=True)

    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=2))
    first = pdf.make_indirect(Dictionary(Title="first", Parent=outlines, Dest=Array([p2, Name.Fit])))
    second = pdf.make_indirect(
        Dictionary(Title="second", Parent=outlines, Prev=first, Dest=Array([p3, Name.Fit]))
    )
    first.Next = second
    outlines.First, outlines.Last = first, second
    pdf.Root.Outlines = outlines

    ring_a = pdf.make_indirect(Dictionary(Name=Name.A))
    ring_b = pdf.make_indirect(Dictionary(Name=Name.B, Next=ring_a))
    ring_a.Next = ring_b
    pdf.Root.Ring = ring_a
    pdf.Root.Nested = Array([Array([Array([ring_b, None]), 1]), Dictionary(Deep=Array([p2]))])
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if object_streams else pikepdf.ObjectStreamMode.disable
    pdf.save(out, object_stream_mode=mode, compress_streams=False)
    return out.getvalue()


def _trailer(pdf: bytes) -> tuple[generic.IndirectObject, int]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return reader.trailer.raw_get("/Root"), int(reader.trailer["/Size"])


def _append(pdf: bytes, objects: dict[int, bytes], size: int, root: generic.IndirectObject) -> bytes:
    """An incremental update written by hand: `objects` (number -> body) and a classic xref table."""
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for number, body in sorted(objects.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    at = len(out)
    out += b"xref\n"
    for number, offset in sorted(offsets.items()):
        out += b"%d 1\n%010d 00000 n \n" % (number, offset)
    out += b"trailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root.idnum,
        root.generation,
        previous,
        at,
    )
    return bytes(out)


def _catalog_with(pdf: bytes, extra: bytes) -> bytes:
    """The catalog written again with `extra` added to its entries (raw PDF syntax)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    catalog = generic.DictionaryObject({k: reader.root.raw_get(k) for k in reader.root})
    written = io.BytesIO()
    catalog.write_to_stream(written)
    body = written.getvalue()
    assert body.endswith(b">>")
    return body[:-2] + b" " + extra + b" >>"


def _reference_to_reference(pdf: bytes) -> bytes:
    """A revision adding an object whose value is a reference to another object, one that refers to
    itself, and an array holding both, named from the catalog."""
    root, size = _trailer(pdf)
    objects = {
        size: b"<< /Kind /Target >>",
        size + 1: b"%d 0 R" % size,
        size + 2: b"<< /Self %d 0 R /Items [%d 0 R %d 0 R null] >>" % (size + 2, size, size + 1),
        root.idnum: _catalog_with(pdf, b"/Pointer %d 0 R /Loop %d 0 R" % (size + 1, size + 2)),
    }
    return _append(pdf, objects, size + 3, root)


def _annotation_added(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    note = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
            generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (5, 5, 25, 25)]),
            generic.pdf_name("/Contents"): generic.TextStringObject("金额改为 100 万"),
        }
    )
    writer.register_annotation(page_ref, writer.add_object(note))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _revisions(base: bytes, parties: tuple[Any, Any], steps: list[str]) -> bytes:
    """`base` with a revision for each step: a SealBridge seal (SM2), a stock pyHanko signature (ECDSA),
    a revision written by hand (_reference_to_reference) or an annotation added by pyHanko's writer."""
    doc = base
    sealer, signer = parties
    for i, step in enumerate(steps):
        if step == "seal":
            doc = stamp_pdf(doc, sealer, [At(1 + i % 2, 40 + 30 * i, 40)])
        elif step == "sign":
            doc = pyhanko_sign(doc, signer, f"Signature{i}")
        elif step == "ref":
            doc = _reference_to_reference(doc)
        elif step == "annotation":
            doc = _annotation_added(doc)
    return doc


SHAPES: dict[str, Callable[[tuple[Any, Any]], bytes]] = {
    "contract, three seals": lambda p: _revisions(contract_pdf(2), p, ["seal", "seal", "seal"]),
    "shaped, object streams, sealed and signed": lambda p: _revisions(
        _shaped(True), p, ["seal", "sign", "seal"]
    ),
    "shaped, classic xref, by-hand revision between seals": lambda p: _revisions(
        _shaped(False), p, ["seal", "ref", "seal", "annotation"]
    ),
    "shaped, object streams, by-hand revision first": lambda p: _revisions(
        _shaped(True), p, ["ref", "sign", "seal"]
    ),
}


# -- the two mappings --------------------------------------------------------------------------------------


def _pyhankos(doc: bytes, revision: int) -> dict[Any, Any] | type[BaseException]:
    resolver = PdfFileReader(io.BytesIO(doc), strict=False).get_historical_resolver(revision)
    try:
        PYHANKO_MAPPING(resolver)
    except Exception as exc:  # noqa: BLE001 - which one is compared
        return type(exc)
    assert resolver._indirect_object_access_cache is not None
    return resolver._indirect_object_access_cache


def _ours(doc: bytes, revision: int) -> dict[Any, Any] | None | type[BaseException]:
    resolver = PdfFileReader(io.BytesIO(doc), strict=False).get_historical_resolver(revision)
    try:
        return revisionpaths.reverse_paths(resolver)
    except Exception as exc:  # noqa: BLE001 - which one is compared
        return type(exc)


def _installed(doc: bytes, revision: int) -> dict[Any, Any] | type[BaseException]:
    resolver = PdfFileReader(io.BytesIO(doc), strict=False).get_historical_resolver(revision)
    try:
        revisionpaths.prepare(resolver)
        resolver._load_reverse_xref_cache()
    except Exception as exc:  # noqa: BLE001 - which one is compared
        return type(exc)
    assert resolver._indirect_object_access_cache is not None
    return resolver._indirect_object_access_cache


def _revision_count(doc: bytes) -> int:
    return PdfFileReader(io.BytesIO(doc), strict=False).xrefs.total_revisions


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_map_is_pyhankos_for_every_revision(shape: str, sm2_party, ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    doc = SHAPES[shape]((sm2_party, ecdsa_party))
    count = _revision_count(doc)
    assert count >= 4
    for revision in range(count):
        expected = _pyhankos(doc, revision)
        assert isinstance(expected, dict), (revision, expected)
        assert len(expected) > 5
        assert _ours(doc, revision) == expected, revision
        assert _installed(doc, revision) == expected, revision


def test_the_shapes_reach_what_the_mapping_treats_apart(sm2_party, ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    """The shaped document's map holds what its rules are about: what is under a page is reached only along
    the page tree (not through a link's /Dest, an outline or a structure element's /Pg), what is under a
    structure element only from /StructTreeRoot /K (not from the parent tree), a cycle is entered once per
    path, and a reference to a reference ends its path."""
    doc = SHAPES["shaped, classic xref, by-hand revision between seals"]((sm2_party, ecdsa_party))
    paths = _ours(doc, _revision_count(doc) - 1)
    assert isinstance(paths, dict)
    found = {ref.idnum: {str(p) for p in at} for ref, at in paths.items()}
    reader = PdfFileReader(io.BytesIO(doc), strict=False)
    root = reader.root
    content = root["/Pages"]["/Kids"][1].raw_get("/Contents").reference  # the third page's, shared by all
    assert found[content.idnum] == {
        ".Root.Pages.Kids[0].Kids[0].Contents",
        ".Root.Pages.Kids[0].Kids[1].Contents",
        ".Root.Pages.Kids[1].Contents",
    }
    span = root["/StructTreeRoot"]["/K"]["/K"][1]["/K"][1]
    attributes = span.raw_get("/A").reference
    assert found[attributes.idnum] == {".Root.StructTreeRoot.K.K[1].K[1].A"}
    assert {p for p in found[span.container_ref.idnum] if "ParentTree" in p}  # recorded there, not entered
    ring_a, ring_b = root.raw_get("/Ring").reference, root["/Ring"].raw_get("/Next").reference
    assert found[ring_a.idnum] == {".Root.Ring", ".Root.Nested[0][0][0].Next"}
    assert found[ring_b.idnum] == {".Root.Ring.Next", ".Root.Nested[0][0][0]"}
    pointer = root.raw_get("/Pointer").reference
    loop = root["/Loop"]
    target = loop.raw_get("/Items").raw_get(0).reference
    assert found[pointer.idnum] == {".Root.Pointer", ".Root.Loop.Items[1]"}
    assert found[target.idnum] == {".Root.Loop.Items[0]"}
    assert found[loop.container_ref.idnum] == {".Root.Loop"}


# -- failures and what is left to pyHanko ------------------------------------------------------------------


def _page_tree_cycle(pdf: bytes) -> bytes:
    """The inner /Pages node lists the root /Pages node among its kids."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = _trailer(pdf)
    pages_ref = reader.root.raw_get("/Pages")
    inner_ref = reader.root["/Pages"].raw_get("/Kids").raw_get(0)
    inner = reader.root["/Pages"]["/Kids"][0]
    kids = b" ".join(b"%d 0 R" % k.reference.idnum for k in inner.raw_get("/Kids"))
    body = b"<< /Type /Pages /Parent %d 0 R /Count 2 /Kids [%s %d 0 R] >>" % (
        pages_ref.idnum,
        kids,
        pages_ref.idnum,
    )
    return _append(pdf, {inner_ref.idnum: body}, size, root)


def _replace_catalog_entry(pdf: bytes, entry: bytes, value: bytes | None) -> bytes:
    """The catalog written again with `entry` set to `value` (raw PDF syntax), or without it (None)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = _trailer(pdf)
    catalog = generic.DictionaryObject(
        {k: reader.root.raw_get(k) for k in reader.root if k != entry.decode()}
    )
    written = io.BytesIO()
    catalog.write_to_stream(written)
    body = written.getvalue()[:-2] + (b"" if value is None else b" " + entry + b" " + value) + b" >>"
    return _append(pdf, {root.idnum: body}, size, root)


def _struct_tree_cycle(pdf: bytes) -> bytes:
    """The span's /K lists the paragraph that holds it."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = _trailer(pdf)
    para2 = reader.root["/StructTreeRoot"]["/K"]["/K"].raw_get(1).reference
    span = reader.root["/StructTreeRoot"]["/K"]["/K"][1]["/K"].raw_get(1).reference
    body = b"<< /Type /StructElem /S /Span /P %d 0 R /K [3 %d 0 R] >>" % (para2.idnum, para2.idnum)
    return _append(pdf, {span.idnum: body}, size, root)


BROKEN: dict[str, Callable[[bytes], bytes]] = {
    "page tree cycle": _page_tree_cycle,
    "/Pages without /Kids": lambda pdf: _replace_catalog_entry(
        pdf, b"/Pages", b"<< /Type /Pages /Count 0 >>"
    ),
    "/Kids a number": lambda pdf: _replace_catalog_entry(pdf, b"/Pages", b"<< /Type /Pages /Kids 7 >>"),
    "/Kids holding a name": lambda pdf: _replace_catalog_entry(
        pdf, b"/Pages", b"<< /Type /Pages /Kids [/Oops] >>"
    ),
    "/StructTreeRoot an array": lambda pdf: _replace_catalog_entry(pdf, b"/StructTreeRoot", b"[1 2]"),
    "/StructTreeRoot null": lambda pdf: _replace_catalog_entry(pdf, b"/StructTreeRoot", b"null"),
    "/Pages missing": lambda pdf: _replace_catalog_entry(pdf, b"/Pages", None),
    "structure tree cycle": _struct_tree_cycle,
}


@pytest.mark.parametrize("damage", list(BROKEN))
def test_where_pyhankos_mapping_fails_so_does_this_one(damage: str) -> None:
    doc = BROKEN[damage](_shaped(False))
    last = _revision_count(doc) - 1
    expected = _pyhankos(doc, last)
    assert isinstance(expected, type) and issubclass(expected, Exception)
    ours = _ours(doc, last)
    assert isinstance(ours, type) and issubclass(ours, Exception), ours
    assert _installed(doc, last) is expected  # pyHanko's own mapping ran, and failed as it does
    # The revision before the damage maps as ever.
    assert _ours(doc, last - 1) == _pyhankos(doc, last - 1)


def _nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def _chain_of_references(pdf: bytes, links: int) -> bytes:
    """The root /Pages node's second kid reached through `links` objects each holding a reference to the
    next."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = _trailer(pdf)
    pages_ref = reader.root.raw_get("/Pages").reference
    pages = reader.root["/Pages"]
    first, last = pages["/Kids"].raw_get(0).reference, pages["/Kids"].raw_get(1).reference
    objects = {size + i: b"%d 0 R" % (size + i + 1) for i in range(links - 1)}
    objects[size + links - 1] = b"%d 0 R" % last.idnum
    objects[pages_ref.idnum] = b"<< /Type /Pages /Count 3 /Kids [%d 0 R %d 0 R] >>" % (first.idnum, size)
    return _append(pdf, objects, size + links, root)


def _long_path(pdf: bytes, steps: int) -> bytes:
    """A list of `steps` objects, each naming the next as /Next, hung from the catalog."""
    root, size = _trailer(pdf)
    objects = {size + i: b"<< /Next %d 0 R >>" % (size + i + 1) for i in range(steps - 1)}
    objects[size + steps - 1] = b"<< /End true >>"
    objects[root.idnum] = _catalog_with(pdf, b"/List %d 0 R" % size)
    return _append(pdf, objects, size + steps, root)


DEEP: dict[str, Callable[[int], bytes]] = {
    "nested arrays": lambda over: _replace_catalog_entry(
        _shaped(False), b"/Deep", _nested_arrays(revisionpaths.MAX_NESTING + over)
    ),
    "references to references": lambda over: _chain_of_references(
        _shaped(False), revisionpaths.MAX_CHAIN + over
    ),
    "a long path": lambda over: _long_path(_shaped(False), revisionpaths.MAX_PATH + over),
}


@pytest.mark.parametrize("shape", list(DEEP))
def test_deeper_than_the_limits_is_left_to_pyhanko(shape: str) -> None:
    doc = DEEP[shape](5)
    last = _revision_count(doc) - 1
    expected = _pyhankos(doc, last)
    assert isinstance(expected, dict)  # pyHanko maps it (this much is within its recursion)
    assert _ours(doc, last) is revisionpaths._TooDeep
    assert _installed(doc, last) == expected
    # Just within the limit: mapped here, the same map.
    within = DEEP[shape](-5)
    assert isinstance(_ours(within, last), dict)
    assert _ours(within, last) == _pyhankos(within, last)


# Documents pyHanko's copy of an object refuses (a value without a container reference), which a walk
# that does not copy could read. Written with a cross-reference stream (object streams need one).


def _xref_stream_pdf(objects: dict[int, bytes], compressed: dict[int, tuple[int, int]], root: int) -> bytes:
    """One revision: `objects` (number -> body) at places in the file, `compressed` (number -> (object
    stream, index)) in object streams, and a cross-reference stream listing both."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    rows = {0: bytes([0]) + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")}
    for number, body in sorted(objects.items()):
        rows[number] = bytes([1]) + len(out).to_bytes(4, "big") + (0).to_bytes(2, "big")
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    for number, (stream, index) in compressed.items():
        rows[number] = bytes([2]) + stream.to_bytes(4, "big") + index.to_bytes(2, "big")
    xref_number = max([*objects, *compressed]) + 1
    at = len(out)
    rows[xref_number] = bytes([1]) + at.to_bytes(4, "big") + (0).to_bytes(2, "big")
    data = b"".join(rows[n] for n in sorted(rows))
    index = b" ".join(b"%d 1" % n for n in sorted(rows))
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] /Root %d 0 R /Length %d >>\nstream\n"
        % (
            xref_number,
            xref_number + 1,
            index,
            root,
            len(data),
        )
    )
    return bytes(out + data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at)


def _object_stream(entries: list[tuple[int, bytes]], extra: bytes = b"", deflate: bool = False) -> bytes:
    head, bodies = b"", b""
    for number, body in entries:
        head += b"%d %d " % (number, len(bodies))
        bodies += body + b" "
    data = zlib.compress(head + bodies) if deflate else head + bodies
    return (
        b"<< /Type /ObjStm /N %d /First %d %s /Length %d >>\nstream\n"
        % (
            len(entries),
            len(head),
            extra,
            len(data),
        )
        + data
        + b"\nendstream"
    )


def _missing_from_its_object_stream() -> bytes:
    """The catalog names object 6, which the cross-reference stream puts in object stream 4 at an index
    the stream does not hold: pyHanko's reader makes up a null for it, without a container reference."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /Foo 6 0 R /Bar 5 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
        4: _object_stream([(5, b"<< /A 1 >>")]),
    }
    return _xref_stream_pdf(objects, {5: (4, 0), 6: (4, 7)}, root=1)


def _padded_decode_parms() -> bytes:
    """The object stream's /DecodeParms is an empty array (object 5) that the catalog names too: decoding
    the stream pads that very array with a null that has no container reference."""
    catalog = (1, b"<< /Type /Catalog /Pages 2 0 R /Parms 5 0 R >>")
    pages = (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    page = (3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>")
    objects = {
        4: _object_stream([catalog, pages, page], b"/Filter /FlateDecode /DecodeParms 5 0 R", deflate=True),
        5: b"[]",
    }
    return _xref_stream_pdf(objects, {1: (4, 0), 2: (4, 1), 3: (4, 2)}, root=1)


def _deep_behind_references() -> bytes:
    """/Root /Pages reached through references to references, to a node with an entry nobody walks that
    holds arrays 300 deep: more stack for pyHanko's copy than it may have."""
    chain = revisionpaths.MAX_CHAIN - 2
    objects = {
        1: b"<< /Type /Catalog /Pages 10 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Junk " + _nested_arrays(300) + b" >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
    }
    objects.update({10 + i: b"%d 0 R" % (11 + i if i < chain - 1 else 2) for i in range(chain)})
    return _xref_stream_pdf(objects, {}, root=1)


PYHANKO_REFUSES = {
    "an object missing from its object stream": _missing_from_its_object_stream,
    "a /DecodeParms array pyHanko pads": _padded_decode_parms,
    "nesting deep behind a chain of references": _deep_behind_references,
}


@pytest.mark.parametrize("case", list(PYHANKO_REFUSES))
def test_what_pyhankos_copy_refuses_is_left_to_pyhanko(case: str) -> None:
    doc = PYHANKO_REFUSES[case]()
    for read_first in (False, True):  # verify reads the catalog before the analysis maps the revision
        ours_reader = PdfFileReader(io.BytesIO(doc), strict=False)
        plain_reader = PdfFileReader(io.BytesIO(doc), strict=False)
        if read_first:
            ours_reader.root, plain_reader.root  # noqa: B018 - read for its side effects
        plain = plain_reader.get_historical_resolver(0)
        try:
            PYHANKO_MAPPING(plain)
            expected: Any = plain._indirect_object_access_cache
        except Exception as exc:  # noqa: BLE001 - compared below
            expected = type(exc)
        if case != "nesting deep behind a chain of references":  # there: however deep pyHanko's stack is
            assert expected is generic.PdfReadError or issubclass(expected, Exception), expected
            assert not isinstance(expected, dict)
        try:
            ours: Any = revisionpaths.reverse_paths(ours_reader.get_historical_resolver(0))
        except Exception as exc:  # noqa: BLE001 - compared below
            ours = type(exc)
        assert ours in (revisionpaths._NotCopyable, revisionpaths._TooDeep, revisionpaths._MayChange), ours
        installed = PdfFileReader(io.BytesIO(doc), strict=False).get_historical_resolver(0)
        if read_first:
            installed.reader.root  # noqa: B018
        try:
            revisionpaths.prepare(installed)
            installed._load_reverse_xref_cache()
            got: Any = installed._indirect_object_access_cache
        except Exception as exc:  # noqa: BLE001 - compared below
            got = type(exc)
        assert got == expected


def _short_decode_parms_and_deep() -> bytes:
    """Object stream 4 has a direct /DecodeParms shorter than its /Filter (reading object 5 from it pads
    that array in place), the catalog names 4, 5 and an object with arrays nested past MAX_NESTING."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /A 4 0 R /B 5 0 R /C 6 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
        4: _object_stream([(5, b"<< /X 1 >>")], b"/Filter /FlateDecode /DecodeParms []", deflate=True),
        6: b"<< /Deep " + _nested_arrays(revisionpaths.MAX_NESTING + 12) + b" >>",
    }
    return _xref_stream_pdf(objects, {5: (4, 0)}, root=1)


def test_giving_up_leaves_the_reader_as_it_was() -> None:
    """A walk that gives up has changed nothing pyHanko's own walk then meets: it neither decoded an
    object stream whose /DecodeParms decoding pads (pyHanko's walk copies that stream before anything in
    it is read, and would then find a null it cannot copy) nor keeps what it parsed."""
    doc = _short_decode_parms_and_deep()
    expected = _pyhankos(doc, 0)
    assert isinstance(expected, dict) and len(expected) == 6
    assert _ours(doc, 0) is revisionpaths._MayChange
    assert _installed(doc, 0) == expected
    reader = PdfFileReader(io.BytesIO(_deep_behind_references()), strict=False)
    held = set(reader.resolved_objects)
    with pytest.raises(revisionpaths._TooDeep):
        revisionpaths.reverse_paths(reader.get_historical_resolver(0))
    assert set(reader.resolved_objects) == held


def test_giving_up_gives_back_what_decoding_charged() -> None:
    """The walk decodes three object streams (64 KiB each) before it meets a stream it gives up on: what
    they charged to the reader's decoding budget is given back and their data forgotten, so pyHanko's own
    walk decodes them as it would have, and the reader's budget ends where pyHanko's alone leaves it."""
    decoded = 64 << 10
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R /Extra [100 0 R 101 0 R 102 0 R] /Z 9 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        9: b"<< /Filter /FlateDecode /DecodeParms [] /Length 13 >>\nstream\n"
        + zlib.compress(b"hello")
        + b"\nendstream",
    }
    compressed = {}
    for i in range(3):
        head = b"%d 0 " % (100 + i)
        data = (head + b"<< /I %d >>" % i).ljust(decoded, b" ")
        packed = zlib.compress(data, 9)
        objects[200 + i] = (
            b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(head), len(packed))
            + packed
            + b"\nendstream"
        )
        compressed[100 + i] = (200 + i, 0)
    doc = _xref_stream_pdf(objects, compressed, root=1)
    plain = PdfFileReader(io.BytesIO(doc), strict=False)
    PYHANKO_MAPPING(plain.get_historical_resolver(0))
    ours = PdfFileReader(io.BytesIO(doc), strict=False)
    with pytest.raises(revisionpaths._MayChange):
        revisionpaths.reverse_paths(ours.get_historical_resolver(0))
    assert (
        ours.decode_context.remaining_budget
        == PdfFileReader(io.BytesIO(doc), strict=False).decode_context.remaining_budget
    )
    installed = PdfFileReader(io.BytesIO(doc), strict=False)
    resolver = installed.get_historical_resolver(0)
    assert not revisionpaths.prepare(resolver)
    resolver._load_reverse_xref_cache()
    assert (
        resolver._indirect_object_access_cache
        == plain.get_historical_resolver(0)._indirect_object_access_cache
    )
    spent = installed.decode_context.remaining_budget
    assert spent is not None and spent == plain.decode_context.remaining_budget
    assert PdfFileReader(io.BytesIO(doc), strict=False).decode_context.remaining_budget - spent >= 3 * decoded
    # Object streams the reader held undecoded before the walk are undecoded after it.
    primed = PdfFileReader(io.BytesIO(doc), strict=False)
    assert revisionpaths._object_streams_stay(primed)  # parses them, decodes none
    budget = primed.decode_context.remaining_budget
    with pytest.raises(revisionpaths._MayChange):
        revisionpaths.reverse_paths(primed.get_historical_resolver(0))
    assert primed.decode_context.remaining_budget == budget
    streams = [primed.get_object(generic.Reference(200 + i, 0, primed)) for i in range(3)]
    assert all(stream._data is None for stream in streams)


def _mark_info_shared_with_decode_parms() -> dict[int, bytes]:
    """The catalog's /MarkInfo is the empty array object stream 4 takes as its /DecodeParms; object 5 is
    in that stream (reading it pads the array)."""
    return {
        1: b"<< /Type /Catalog /Pages 2 0 R /MarkInfo 7 0 R /B 5 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        4: _object_stream([(5, b"<< /X 1 >>")], b"/Filter /FlateDecode /DecodeParms 7 0 R", deflate=True),
        7: b"[]",
    }


def test_a_short_decode_parms_shared_with_the_catalog_gives_pyhankos_report(  # type: ignore[no-untyped-def]
    sm2_party, monkeypatch
) -> None:
    """/MarkInfo is the array object stream 4 takes as its /DecodeParms (reading object 5 pads it); a later
    revision points /MarkInfo elsewhere. pyHanko's walk copies the array before it is padded, and the
    difference analysis later asks for that copy: the report is pyHanko's (the seal valid)."""
    objects = _mark_info_shared_with_decode_parms()
    sealed = stamp_pdf(_xref_stream_pdf(objects, {5: (4, 0)}, root=1), sm2_party, [At(1, 60, 60)])
    root, size = _trailer(sealed)
    catalog = _replace_catalog_entry(sealed, b"/MarkInfo", b"%d 0 R" % size)
    catalog_body = catalog[catalog.rindex(b"%d 0 obj\n" % root.idnum) :].split(b"\n", 1)[1]
    catalog_body = catalog_body[: catalog_body.index(b"\nendobj")]
    doc = _append(sealed, {root.idnum: catalog_body, size: b"<< /Marked true >>"}, size + 1, root)
    from dataclasses import replace

    from tests.support.pdf_parties import NOW

    options = replace(trusting(sm2_party), now=NOW)
    ours = verify(doc, options).to_dict()
    monkeypatch.setattr(revisionpaths, "prepare", lambda resolver: False)  # pyHanko's own walk
    assert verify(doc, options).to_dict() == ours
    assert [seal["verdict"] for seal in ours["seals"]] == ["valid"], ours


def _hybrid_pdf(objects: dict[int, bytes], compressed: dict[int, tuple[int, int]], root: int) -> bytes:
    """A hybrid-reference file: a classic table and trailer whose /XRefStm stream lists the objects in
    object streams (`compressed`: number -> (object stream, index)) that the table does not."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    places = {}
    for number, body in sorted(objects.items()):
        places[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    stream_number = max([*objects, *compressed]) + 1
    rows = b"".join(
        bytes([2]) + stream.to_bytes(4, "big") + index.to_bytes(2, "big")
        for _, (stream, index) in sorted(compressed.items())
    )
    listed = b" ".join(b"%d 1" % n for n in sorted(compressed))
    places[stream_number] = len(out)
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] /Length %d >>\nstream\n" % (
        stream_number,
        stream_number + 1,
        listed,
        len(rows),
    )
    out += rows + b"\nendstream\nendobj\n"
    at = len(out)
    out += b"xref\n0 %d\n" % (stream_number + 1)
    for n in range(stream_number + 1):
        out += b"%010d 00000 n \n" % places[n] if n in places else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        stream_number + 1,
        root,
        places[stream_number],
        at,
    )
    return bytes(out)


def test_a_hybrid_file_is_left_to_pyhanko(sm2_party, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Object stream 4, listed only by a hybrid file's /XRefStm, takes as its /DecodeParms the array the
    catalog names as /MarkInfo; a later revision points /MarkInfo elsewhere. The object streams such a
    section uses are not among those the cross-reference cache names: a hybrid file is left to pyHanko's
    walk, and the report is pyHanko's (the seal valid)."""
    objects = _mark_info_shared_with_decode_parms()
    base = _hybrid_pdf(objects, {5: (4, 0)}, root=1)
    assert PdfFileReader(io.BytesIO(base), strict=False).xrefs.hybrid_xrefs_present
    assert _ours(base, 0) is revisionpaths._MayChange
    assert _installed(base, 0) == _pyhankos(base, 0)
    writer = IncrementalPdfFileWriter(io.BytesIO(stamp_pdf(base, sm2_party, [At(1, 60, 60)])), strict=False)
    writer.root["/MarkInfo"] = writer.add_object(
        generic.DictionaryObject({generic.pdf_name("/Marked"): generic.BooleanObject(True)})
    )
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    doc = out.getvalue()
    from dataclasses import replace

    from tests.support.pdf_parties import NOW

    options = replace(trusting(sm2_party), now=NOW)
    ours = verify(doc, options).to_dict()
    monkeypatch.setattr(revisionpaths, "prepare", lambda resolver: False)  # pyHanko's own walk
    assert verify(doc, options).to_dict() == ours
    assert [seal["verdict"] for seal in ours["seals"]] == ["valid"], ours


@pytest.mark.parametrize("caller_depth", [600, 820, 880])
def test_a_deep_caller_gets_pyhankos_outcome(caller_depth: int) -> None:
    """Called with little stack left, the walk leaves the map to pyHanko's walk, which needs about twice
    the frames (a path of 94 steps here): whatever pyHanko's walk then does (map or RecursionError), the
    installed mapping does."""
    doc = _long_path(_shaped(False), 46)
    last = _revision_count(doc) - 1

    def at_depth(depth: int, fn: Callable[[], Any]) -> Any:
        here = len(inspect.stack(0))
        return _deeper(depth - here, fn)

    expected = at_depth(caller_depth, lambda: _pyhankos(doc, last))
    assert at_depth(caller_depth, lambda: _installed(doc, last)) == expected
    if caller_depth == 600:
        assert isinstance(expected, dict)  # room enough: both map, the same map
        assert at_depth(caller_depth, lambda: _ours(doc, last)) == expected


def _deeper(frames: int, fn: Callable[[], Any]) -> Any:
    return fn() if frames <= 0 else _deeper(frames - 1, fn)


def test_an_encrypted_document_is_left_to_pyhanko() -> None:
    out = io.BytesIO()
    pikepdf.open(io.BytesIO(_shaped(False))).save(out, encryption=pikepdf.Encryption(owner="o", user="", R=6))
    reader = PdfFileReader(io.BytesIO(out.getvalue()), strict=False)
    reader.decrypt("")
    assert reader.encrypted
    assert revisionpaths.reverse_paths(reader.get_historical_resolver(0)) is None


# -- versions parsed once, copies of their own -------------------------------------------------------------


# -- whole reports -----------------------------------------------------------------------------------------


def _content_changed(pdf: bytes) -> bytes:
    """A later revision replacing the first page's content stream."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = _trailer(pdf)
    page = reader.root["/Pages"]["/Kids"][0]
    while "/Kids" in page:
        page = page["/Kids"][0]
    contents = page.raw_get("/Contents")
    ref = (
        contents.reference if isinstance(contents, generic.IndirectObject) else contents.raw_get(0).reference
    )
    data = b"BT /F1 12 Tf 72 700 Td (changed) Tj ET"
    return _append(
        pdf, {ref.idnum: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)}, size, root
    )


REPORTED: dict[str, Callable[[tuple[Any, Any]], bytes]] = {
    "three seals": SHAPES["contract, three seals"],
    "shaped, sealed, signed, sealed": SHAPES["shaped, object streams, sealed and signed"],
    "shaped, by-hand revisions and an annotation after the seals": SHAPES[
        "shaped, classic xref, by-hand revision between seals"
    ],
    "content changed after three seals": lambda p: _content_changed(SHAPES["contract, three seals"](p)),
    "annotation after a seal and a signature": lambda p: _revisions(
        contract_pdf(1), p, ["seal", "sign", "annotation"]
    ),
}


VALID, CHANGED = ("valid", "ok"), ("invalid", "failed")
REPORTED_OUTCOME = {
    "three seals": [VALID] * 3,
    "shaped, sealed, signed, sealed": [VALID] * 3,
    "shaped, by-hand revisions and an annotation after the seals": [CHANGED] * 2,
    "content changed after three seals": [CHANGED] * 3,
    "annotation after a seal and a signature": [CHANGED] * 2,
}


@pytest.mark.parametrize("case", list(REPORTED))
def test_reports_are_the_ones_pyhankos_own_mapping_and_reader_give(  # type: ignore[no-untyped-def]
    case: str, sm2_party, ecdsa_party, monkeypatch
) -> None:
    from dataclasses import replace

    from tests.support.pdf_parties import NOW

    doc = REPORTED[case]((sm2_party, ecdsa_party))
    options = replace(trusting(sm2_party, ecdsa_party), now=NOW)
    ours = verify(doc, options).to_dict()
    monkeypatch.setattr(revisionpaths, "prepare", lambda resolver: False)  # pyHanko's own walk
    assert verify(doc, options).to_dict() == ours
    # and they are what these documents call for: the seals intact, the later changes caught
    outcome = [(seal["verdict"], seal["checks"]["changes_after"]["status"]) for seal in ours["seals"]]
    assert outcome == REPORTED_OUTCOME[case], ours
