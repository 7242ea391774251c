"""A large PDF is parsed through views of its bytes (stamping.pdf.verify.document_stream): a stream's payload
is a memoryview of the document, not a copy, and the reports are the ones a plain copy gives, for an intact
document, a byte flipped inside the payload, and a later revision that rewrites the payload."""

from __future__ import annotations

import importlib
import io
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping.pdf import verify
from stamping.placement import At
from tests.support.pdf_flows import stamp_pdf, trusting
from tests.support.pdf_maker import PageSpec, make_pdf

verify_module = importlib.import_module(
    "stamping.pdf.verify"
)  # the module (the package exports its function)

FILLER = 5 << 20  # over VIEWS_FROM_DOCUMENT_SIZE with the rest of the file


@pytest.fixture(scope="module")
def sealed(sm2_party, ecdsa_party) -> bytes:  # type: ignore[no-untyped-def]
    """Two pages, a 5 MiB payload the catalog references (read by every difference analysis), two seals."""
    pages = [PageSpec(lines=[(72, 780, f"Scanned page {i + 1}")]) for i in range(2)]
    pdf = make_pdf(pages, filler_bytes=FILLER)
    for party, place in ((sm2_party, At(1, 40, 40)), (ecdsa_party, At(2, 90, 40))):
        pdf = stamp_pdf(pdf, party, [place])
    assert len(pdf) >= verify_module.VIEWS_FROM_DOCUMENT_SIZE
    return pdf


def _filler_ref(pdf: bytes) -> generic.IndirectObject:
    return PdfFileReader(io.BytesIO(pdf), strict=False).root.raw_get("/SealBridgeFiller")


def _payload_offset(pdf: bytes) -> int:
    """Where the filler's payload starts in the file (after `stream` and its line end)."""
    ref = _filler_ref(pdf)
    head = pdf.index(b"\n%d 0 obj" % ref.idnum) + 1
    return pdf.index(b"stream\n", head) + len(b"stream\n")


def test_a_large_payload_is_a_view_of_the_documents_bytes(sealed: bytes) -> None:
    stream = verify_module.document_stream(sealed)
    reader = PdfFileReader(stream, strict=False)
    payload = reader.root["/SealBridgeFiller"].encoded_data
    assert isinstance(payload, memoryview) and payload.obj is sealed and len(payload) == FILLER
    start = _payload_offset(sealed)
    assert payload == sealed[start : start + FILLER]
    # Small reads stay bytes (pyHanko's tokenizer compares them with bytes literals and ord()s them).
    stream.seek(0)
    assert stream.read(5) == b"%PDF-" and isinstance(stream.read(1), bytes)
    # Below the size the views pay off, the stream is the plain BytesIO.
    assert type(verify_module.document_stream(sealed[:1000])) is io.BytesIO


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


@pytest.mark.parametrize("change", ["none", "flipped payload byte", "payload rewritten later"])
def test_views_give_the_reports_a_copy_gives(  # type: ignore[no-untyped-def]
    sealed: bytes, sm2_party, ecdsa_party, monkeypatch, change: str
) -> None:
    doc = {"none": sealed, "flipped payload byte": _flip_in_payload(sealed)}.get(change) or _rewrite_payload(
        sealed
    )
    options = trusting(sm2_party, ecdsa_party)
    viewed = _summary(verify(doc, options))
    monkeypatch.setattr(verify_module, "VIEWS_FROM_DOCUMENT_SIZE", len(doc) + 1)  # a plain copy
    assert type(verify_module.document_stream(doc)) is io.BytesIO
    copied = _summary(verify(doc, options))
    assert viewed == copied
    verdicts = [verdict for verdict, _ in viewed]
    if change == "none":
        assert verdicts == ["valid", "valid"], viewed
    elif change == "flipped payload byte":
        assert verdicts == ["invalid", "invalid"], viewed
        assert {checks["integrity"] for _, checks in viewed} == {"BYTE_RANGE_DIGEST_MISMATCH"}
    else:
        assert {checks["changes_after"] for _, checks in viewed} == {"CHANGES_NOT_ALLOWED"}, viewed
        assert all(checks["integrity"] != "BYTE_RANGE_DIGEST_MISMATCH" for _, checks in viewed)
