"""A large PDF is parsed through views of its bytes (stamping/pdf/payloadviews.py): a stream's payload is a
memoryview of the document, not a copy, its decoded data is bytes, and the reports are the ones a plain copy
gives: for an intact document, a byte flipped inside the payload, a later revision that rewrites the
payload, and later revisions whose streams only decoders that need bytes can read (ASCIIHex XMP metadata,
an ASCIIHex cross-reference stream)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping.pdf import payloadviews, verify
from stamping.placement import At
from tests.support.fresh_python import run_python_ok
from tests.support.pdf_flows import stamp_pdf, trusting
from tests.support.pdf_maker import PageSpec, make_pdf

FILLER = 5 << 20  # over VIEWS_FROM_DOCUMENT_SIZE with the rest of the file


@pytest.fixture(scope="module")
def sealed(sm2_party, ecdsa_party) -> bytes:  # type: ignore[no-untyped-def]
    """Two pages, a 5 MiB payload the catalog references (read by every difference analysis), two seals."""
    pages = [PageSpec(lines=[(72, 780, f"Scanned page {i + 1}")]) for i in range(2)]
    pdf = make_pdf(pages, filler_bytes=FILLER)
    for party, place in ((sm2_party, At(1, 40, 40)), (ecdsa_party, At(2, 90, 40))):
        pdf = stamp_pdf(pdf, party, [place])
    assert len(pdf) >= payloadviews.VIEWS_FROM_DOCUMENT_SIZE
    return pdf


def _filler_ref(pdf: bytes) -> generic.IndirectObject:
    return PdfFileReader(io.BytesIO(pdf), strict=False).root.raw_get("/SealBridgeFiller")


def _payload_offset(pdf: bytes) -> int:
    """Where the filler's payload starts in the file (after `stream` and its line end)."""
    ref = _filler_ref(pdf)
    head = pdf.index(b"\n%d 0 obj" % ref.idnum) + 1
    return pdf.index(b"stream\n", head) + len(b"stream\n")


def test_a_large_payload_is_a_view_of_the_documents_bytes(sealed: bytes) -> None:
    stream = payloadviews.document_stream(sealed)
    reader = PdfFileReader(stream, strict=False)
    payload = reader.root["/SealBridgeFiller"].encoded_data
    assert isinstance(payload, memoryview) and payload.obj is sealed and len(payload) == FILLER
    start = _payload_offset(sealed)
    assert payload == sealed[start : start + FILLER]
    # Small reads stay bytes (pyHanko's tokenizer compares them with bytes literals and ord()s them).
    stream.seek(0)
    assert stream.read(5) == b"%PDF-" and isinstance(stream.read(1), bytes)
    # Below the size the views pay off, the stream is the plain BytesIO.
    assert type(payloadviews.document_stream(sealed[:1000])) is io.BytesIO


def test_decoded_data_is_bytes(sealed: bytes) -> None:
    """What a decoder gets, and what `.data` gives, is bytes: ASCIIHexDecode splits its input with a bytes
    method, and an unfiltered stream's data would otherwise be the view itself."""
    doc = _hex_metadata_update(sealed)
    reader = PdfFileReader(payloadviews.document_stream(doc), strict=False)
    metadata = reader.root["/Metadata"]
    assert isinstance(metadata.encoded_data, memoryview)
    assert isinstance(metadata.data, bytes) and metadata.data.startswith(b"<?xpacket")
    assert isinstance(metadata.encoded_data, memoryview)  # still the view: nothing copied for keeps
    filler = reader.root["/SealBridgeFiller"]
    assert isinstance(filler.data, bytes) and len(filler.data) == FILLER


def _hex_metadata_update(pdf: bytes) -> bytes:
    """A later revision setting the catalog's /Metadata to an XMP packet stored with /ASCIIHexDecode (80 KB
    encoded: a view), which the difference analysis decodes to check it is well-formed XML. Written by hand:
    pyHanko's writer would put its own XMP in its place."""
    xmp = (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""/>'
        b"</rdf:RDF></x:xmpmeta>" + b" " * 40_000 + b'<?xpacket end="w"?>'
    )
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = reader.trailer.raw_get("/Root"), int(reader.trailer["/Size"])
    catalog = generic.DictionaryObject({k: reader.root.raw_get(k) for k in reader.root})
    catalog[generic.pdf_name("/Metadata")] = generic.IndirectObject(size, 0, None)  # type: ignore[arg-type]
    written = io.BytesIO()
    catalog.write_to_stream(written)
    payload = xmp.hex().encode("ascii") + b">"
    out = bytearray(pdf + b"\n")
    metadata_at = len(out)
    out += b"%d 0 obj\n<< /Type /Metadata /Subtype /XML /Filter /ASCIIHexDecode /Length %d >>\nstream\n" % (
        size,
        len(payload),
    )
    out += payload + b"\nendstream\nendobj\n"
    catalog_at = len(out)
    out += b"%d %d obj\n" % (root.idnum, root.generation) + written.getvalue() + b"\nendobj\n"
    return _with_xref_stream(bytes(out), root, [(root.idnum, catalog_at), (size, metadata_at)], size + 1)


def _with_xref_stream(
    pdf: bytes, root: generic.IndirectObject, offsets: list[tuple[int, int]], number: int
) -> bytes:
    """`pdf` ending an incremental update whose objects are at `offsets` ((object number, offset)): its
    cross-reference stream (object `number`, unfiltered) and trailer."""
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    at = len(pdf)
    entries = sorted([*offsets, (number, at)])
    rows = b"".join(bytes([1]) + off.to_bytes(4, "big") + (0).to_bytes(2, "big") for _, off in entries)
    index = b" ".join(b"%d 1" % n for n, _ in entries)
    xref = (
        b"%d 0 obj\n<< /Type /XRef /Size %d /Root %d %d R /Prev %d /W [1 4 2] /Index [%s] /Length %d >>\n"
        % (number, number + 1, root.idnum, root.generation, previous, index, len(rows))
    )
    return pdf + xref + b"stream\n" + rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at


def _hex_xref_update(pdf: bytes) -> bytes:
    """A later revision that is only a cross-reference stream stored with /ASCIIHexDecode (70 KB: a view;
    the whitespace is padding the filter skips). It changes nothing."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root, size = reader.trailer.raw_get("/Root"), int(reader.trailer["/Size"])
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    at = len(pdf) + 1
    entry = bytes([1]) + at.to_bytes(4, "big") + (0).to_bytes(2, "big")  # the stream itself, in use
    payload = entry.hex().encode("ascii") + b" " * 70_000 + b">"
    xref = b"\n%d 0 obj\n<< /Type /XRef /Size %d /Root %d %d R /Prev %d /W [1 4 2] /Index [%d 1] " % (
        size,
        size + 1,
        root.idnum,
        root.generation,
        previous,
        size,
    )
    xref += (
        b"/Filter /ASCIIHexDecode /Length %d >>\nstream\n" % len(payload) + payload + b"\nendstream\nendobj\n"
    )
    return pdf + xref + b"startxref\n%d\n%%%%EOF\n" % at


def _filler_again(pdf: bytes, last_byte_flipped: bool = False, indirect_length: bool = False) -> bytes:
    """A later revision writing the filler object again, byte for byte (as editors that save every object in
    each update do), or with its payload's last byte changed, or with its /Length in an object of its own."""
    ref = _filler_ref(pdf)
    start = pdf.index(b"\n%d 0 obj" % ref.idnum) + 1
    body = bytearray(pdf[start : pdf.index(b"endobj", start) + len(b"endobj")])
    if last_byte_flipped:
        at = body.index(b"\nendstream") - 1
        body[at] ^= 1
    out = pdf + b"\n"
    trailer = PdfFileReader(io.BytesIO(pdf), strict=False).trailer
    root, size = trailer.raw_get("/Root"), int(trailer["/Size"])
    offsets = [(ref.idnum, len(out))]
    if indirect_length:
        body = bytearray(re.sub(rb"/Length \d+", b"/Length %d 0 R" % size, bytes(body), count=1))
        out += bytes(body) + b"\n"
        offsets.append((size, len(out)))
        out += b"%d 0 obj\n%d\nendobj\n" % (size, FILLER)
        return _with_xref_stream(out, root, offsets, size + 1)
    return _with_xref_stream(out + bytes(body) + b"\n", root, offsets, size)


def test_only_a_payload_is_read_through_python(sealed: bytes) -> None:
    """The tokenizer's many small reads are BytesIO's own (a read written in Python costs twice as much); a
    payload is a view, its /Length direct or in an object of its own (read while the payload is)."""
    doc = _filler_again(sealed, indirect_length=True)
    stream = payloadviews.document_stream(doc)
    reader = PdfFileReader(stream, strict=False)
    ref = _filler_ref(doc)
    last = reader.xrefs.total_revisions - 1
    for revision in (last - 1, last):
        filler = reader.get_historical_resolver(revision)(ref.reference)
        assert isinstance(filler.encoded_data, memoryview) and len(filler.encoded_data) == FILLER, revision
    assert isinstance(filler.raw_get("/Length"), generic.IndirectObject)  # the last revision's: indirect
    assert filler.encoded_data == sealed[_payload_offset(sealed) :][:FILLER]
    assert "read" not in vars(stream) and type(stream).read is io.BytesIO.read


def test_a_payload_written_again_compares_by_its_bytes(sealed: bytes, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The difference analysis's comparison of an object written again (pyHanko's policies._is_id) sees two
    views at different places of the document: equal when their bytes are, unequal for one byte changed;
    compared as regions of the document's bytes (_same_payload), not element by element as views."""
    from pyhanko.sign.diff_analysis import policies

    compared = []
    same_payload = payloadviews._same_payload
    monkeypatch.setattr(payloadviews, "_same_payload", lambda a, b: compared.append(1) or same_payload(a, b))
    for flipped in (False, True):
        doc = _filler_again(sealed, last_byte_flipped=flipped)
        reader = PdfFileReader(payloadviews.document_stream(doc), strict=False)
        ref = _filler_ref(doc)
        last = reader.xrefs.total_revisions - 1
        old = reader.get_historical_resolver(last - 1)(ref.reference)
        new = reader.get_historical_resolver(last)(ref.reference)
        assert isinstance(old.encoded_data, memoryview) and isinstance(new.encoded_data, memoryview)
        assert old.encoded_data.obj is new.encoded_data.obj is doc  # two places in one document
        assert policies._is_id(old, new) is not flipped
        assert isinstance(old.encoded_data, memoryview)  # put back after the comparison
    assert len(compared) == 2


def _rewrite_payload(pdf: bytes) -> bytes:
    """A later revision whose only change is the filler stream's payload, under the same object number."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    ref = _filler_ref(pdf)
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(stream_data=b"\x00" * 1000)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _flip_in_payload(pdf: bytes) -> bytes:
    at = _payload_offset(pdf) + FILLER // 2
    return pdf[:at] + bytes([pdf[at] ^ 1]) + pdf[at + 1 :]


def _summary(report: Any) -> list[tuple[str, dict[str, str]]]:
    return [(s.verdict, {name: c.code for name, c in s.checks.items()}) for s in report.seals]


CHANGES = {
    "none": lambda pdf: pdf,
    "flipped payload byte": _flip_in_payload,
    "payload rewritten later": _rewrite_payload,
    "ASCIIHex metadata later": _hex_metadata_update,
    "ASCIIHex xref stream later": _hex_xref_update,
    "payload written again later": _filler_again,
    "payload written again, last byte changed": lambda pdf: _filler_again(pdf, last_byte_flipped=True),
    "payload written again, /Length indirect": lambda pdf: _filler_again(pdf, indirect_length=True),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_views_give_the_reports_a_copy_gives(  # type: ignore[no-untyped-def]
    sealed: bytes, sm2_party, ecdsa_party, monkeypatch, change: str
) -> None:
    doc = CHANGES[change](sealed)
    options = trusting(sm2_party, ecdsa_party)
    viewed = _summary(verify(doc, options))
    monkeypatch.setattr(payloadviews, "VIEWS_FROM_DOCUMENT_SIZE", len(doc) + 1)  # a plain copy
    assert type(payloadviews.document_stream(doc)) is io.BytesIO
    copied = _summary(verify(doc, options))
    assert viewed == copied
    verdicts = [verdict for verdict, _ in viewed]
    if change in ("none", "ASCIIHex xref stream later", "payload written again later"):
        assert verdicts == ["valid", "valid"], viewed
    elif change == "ASCIIHex metadata later":  # allowed: well-formed XMP (pyHanko decodes it to check)
        assert verdicts == ["valid", "valid"], viewed
    elif change == "payload written again, last byte changed":
        assert {checks["changes_after"] for _, checks in viewed} == {"CHANGES_NOT_ALLOWED"}, viewed
    elif change == "flipped payload byte":
        assert verdicts == ["invalid", "invalid"], viewed
        assert {checks["integrity"] for _, checks in viewed} == {"BYTE_RANGE_DIGEST_MISMATCH"}
    else:
        assert {checks["changes_after"] for _, checks in viewed} == {"CHANGES_NOT_ALLOWED"}, viewed
        assert all(checks["integrity"] != "BYTE_RANGE_DIGEST_MISMATCH" for _, checks in viewed)


def test_a_pyhanko_without_the_functions_wrapped_parses_from_a_copy() -> None:
    """Where the installed pyHanko lacks a function payloadviews wraps, large documents are parsed from a
    plain copy (slower, never wrong), not a crash."""
    run_python_ok(
        "import io\n"
        "from pyhanko.pdf_utils import generic\n"
        "from pyhanko.pdf_utils.reader import PdfFileReader\n"
        "from stamping.pdf import payloadviews\n"
        "from tests.support.pdf_maker import PageSpec, make_pdf\n"
        "payloadviews._HOOKS = (*payloadviews._HOOKS, (generic, '_not_in_this_pyhanko'))\n"
        "pdf = make_pdf([PageSpec(lines=[(72, 780, 'Scanned page')])], filler_bytes=5 << 20)\n"
        "stream = payloadviews.document_stream(pdf)\n"
        "assert type(stream) is io.BytesIO, type(stream)\n"
        "assert int(PdfFileReader(stream, strict=False).root['/Pages']['/Count']) == 1\n"
        "print('ok')\n"
    )
