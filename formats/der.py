"""The first DER element of a byte string, cut by the length its header declares.

A PDF signature's /Contents is the CMS blob followed by zero padding. Trimming trailing zero bytes is wrong:
a DER structure may itself end in 00 (a signature or an integer whose last byte is zero), and the cut
blob then fails to parse about one time in 256. The header says where the element ends.
"""

from __future__ import annotations

from formats.errors import SealBridgeError

#: Lengths beyond this many bytes are not DER anything we read (and bound the arithmetic).
_MAX_LENGTH_OCTETS = 4


def first_element(data: bytes) -> bytes:
    """The complete first DER element (tag, length, contents) of `data`; DOC_MALFORMED if it is not one."""
    if len(data) < 2:
        raise SealBridgeError("DOC_MALFORMED", "too short for a DER element")
    pos = 1
    if data[0] & 0x1F == 0x1F:  # high tag number form: base-128 continuation bytes
        while pos < len(data) and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(data):
        raise SealBridgeError("DOC_MALFORMED", "truncated DER header")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise SealBridgeError("DOC_MALFORMED", "indefinite length (BER, not DER)")
        if count > _MAX_LENGTH_OCTETS or pos + count > len(data):
            raise SealBridgeError("DOC_MALFORMED", "DER length field too long or truncated")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise SealBridgeError(
            "DOC_MALFORMED", f"DER element declares {length} bytes; {len(data) - pos} follow"
        )
    return bytes(data[:end])
