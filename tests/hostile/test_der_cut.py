"""/Contents is cut by the DER length, not by trimming zeros: a CMS blob may end in 00."""

from __future__ import annotations

import pytest
from asn1crypto import core

from formats.der import first_element
from formats.errors import SealBridgeError


def test_element_ending_in_zero_survives_the_padding():
    blob = core.OctetString(b"\x01\x00").dump()  # 04 02 01 00: the last content byte is zero
    padded = blob + bytes(64)
    assert first_element(padded) == blob
    assert blob.endswith(b"\0")  # trimming zeros would have cut it: about one signature in 256


def test_long_form_length_and_high_tag():
    big = core.OctetString(bytes(300)).dump()  # 04 82 01 2c ...
    assert first_element(big + bytes(10)) == big
    high = bytes([0x1F, 0x81, 0x01, 0x01, 0xAA])  # tag 129 in the high form, length 1
    assert first_element(high + b"\0\0") == high


@pytest.mark.parametrize(
    "data", [b"", b"\x30", b"\x30\x80\x00\x00", b"\x30\x85\x01\x00\x00\x00\x00\x00", b"\x30\x05\x01"]
)
def test_not_an_element(data):
    with pytest.raises(SealBridgeError) as err:
        first_element(data)
    assert err.value.code == "DOC_MALFORMED"
