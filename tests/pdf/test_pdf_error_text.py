"""A damaged PDF's reason names the damage, not the Python object the bytes were read from."""

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
