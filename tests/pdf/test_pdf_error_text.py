"""Damaged PDFs: the reason names the damage, not the Python object the bytes were read from, and damaged
names are read as what they are (a fuzz finding: a /Filter name that is not UTF-8 raised UnicodeDecodeError)."""

from __future__ import annotations

import pytest

from formats.errors import SealBridgeError
from stamping.documents import document_format
from stamping.options import VerifyOptions

NO_KIDS = b"%PDF-1.7\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n2 0 obj <</Type/Pages>> endobj\n" \
    b"trailer <</Root 1 0 R>>\n%%EOF\n"  # fmt: skip


def test_the_reason_has_no_object_address():
    with pytest.raises(SealBridgeError) as exc:
        document_format(NO_KIDS).verify(NO_KIDS, VerifyOptions())
    assert exc.value.code == "DOC_MALFORMED"
    assert (
        "/Kids" in str(exc.value) and "object at 0x" not in str(exc.value) and "BytesIO" not in str(exc.value)
    )


def test_a_signature_dictionary_with_a_name_that_is_not_utf8_is_reported_not_raised():
    from devkit.sealed import seal_holder, sealed

    holder = seal_holder()
    data = sealed("pdf", 1, holder)
    assert data.count(b"/Filter /Adobe.PPKLite") == 1
    damaged = data.replace(
        b"/Filter /Adobe.PPKLite", b"/Filter /Ad\xc1be.PPKLite"
    )  # same length: offsets hold
    report = document_format(damaged).verify(damaged, VerifyOptions(trust_anchors=[holder.root]))
    assert report.verdict == "invalid" and len(report.seals) == 1
    assert report.seals[0].checks["integrity"].status == "failed"
