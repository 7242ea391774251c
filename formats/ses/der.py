"""A strict DER tag-length-value walker.

asn1crypto happily parses BER (indefinite lengths, constructed strings, long-form lengths that are not
minimal), so a seal that is not DER would parse and then verify against bytes that no longer exist once
re-encoded. This walker checks the encoding rules that matter for signed data before asn1crypto sees the
bytes, and records each element's offsets so callers can take the ORIGINAL bytes of any sub-structure.
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.errors import SealBridgeError

MAX_DEPTH = 64

# Universal types that DER requires to be primitive (BER may split them into constructed chunks).
_PRIMITIVE_ONLY = {1, 2, 3, 4, 5, 6, 10, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}
# Universal types that are always constructed.
_CONSTRUCTED_ONLY = {16, 17}
# UTF-8 of U+FFFD: what a binary file turns into when someone opens it as text and saves it again.
_REPLACEMENT_CHAR = b"\xef\xbf\xbd"

CLASS_UNIVERSAL = 0
CLASS_CONTEXT = 2


@dataclass(frozen=True)
class Tlv:
    """One DER element: its identifier, where it sits in the input, and its children if constructed."""

    tag_class: int
    constructed: bool
    tag: int
    start: int
    header_end: int
    end: int
    children: tuple[Tlv, ...] = ()

    def raw(self, data: bytes) -> bytes:
        """The element's original bytes (header and contents)."""
        return data[self.start : self.end]

    def contents(self, data: bytes) -> bytes:
        return data[self.header_end : self.end]

    def is_universal(self, tag: int) -> bool:
        return self.tag_class == CLASS_UNIVERSAL and self.tag == tag

    @property
    def is_sequence(self) -> bool:
        return self.tag_class == CLASS_UNIVERSAL and self.tag == 16 and self.constructed


def malformed(detail: str) -> SealBridgeError:
    return SealBridgeError("DOC_MALFORMED", detail)


def parse_der(data: bytes, what: str = "value") -> Tlv:
    """Walk `data` as exactly one DER element; raise DOC_MALFORMED with a precise reason otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise malformed(f"{what}: expected bytes")
    data = bytes(data)
    if not data:
        raise malformed(f"{what} is empty")
    try:
        node = _walk(data, 0, len(data), 0)
    except SealBridgeError as err:
        if _REPLACEMENT_CHAR in data:
            raise malformed(
                f"{what} is not DER: it contains U+FFFD replacement characters, so the binary file was "
                f"damaged by a text conversion ({err.detail})"
            ) from None
        raise malformed(f"{what} is not DER: {err.detail}") from None
    if node.end != len(data):
        raise malformed(f"{what} is not DER: {len(data) - node.end} bytes of trailing data after the value")
    return node


def _walk(data: bytes, pos: int, limit: int, depth: int) -> Tlv:
    if depth > MAX_DEPTH:
        raise malformed(f"nesting deeper than {MAX_DEPTH} levels")
    start = pos
    if pos >= limit:
        raise malformed(f"truncated: identifier expected at offset {pos}")
    ident = data[pos]
    pos += 1
    tag_class = ident >> 6
    constructed = bool(ident & 0x20)
    tag = ident & 0x1F
    if tag == 0x1F:
        tag = 0
        first = True
        while True:
            if pos >= limit:
                raise malformed(f"truncated tag number at offset {start}")
            b = data[pos]
            pos += 1
            if first and b == 0x80:
                raise malformed(f"non-minimal tag number at offset {start}")
            first = False
            tag = (tag << 7) | (b & 0x7F)
            if tag > 0xFFFFFF:
                raise malformed(f"tag number too large at offset {start}")
            if not b & 0x80:
                break
        if tag < 31:
            raise malformed(f"high-tag-number form used for a low tag at offset {start}")
    if pos >= limit:
        raise malformed(f"truncated: length expected at offset {pos}")
    first_len = data[pos]
    pos += 1
    if first_len == 0x80:
        raise malformed(f"indefinite length (BER) at offset {start}")
    if first_len < 0x80:
        length = first_len
    else:
        n = first_len & 0x7F
        if n == 0x7F or n > 8:
            raise malformed(f"length field of {n} bytes at offset {start} (corrupted)")
        if pos + n > limit:
            raise malformed(f"truncated length at offset {start}")
        length_bytes = data[pos : pos + n]
        pos += n
        if length_bytes[0] == 0:
            raise malformed(f"non-minimal length encoding at offset {start}")
        length = int.from_bytes(length_bytes, "big")
        if length < 0x80:
            raise malformed(f"long-form length for a short value at offset {start}")
    header_end = pos
    end = pos + length
    if end > limit:
        raise malformed(
            f"truncated: element at offset {start} declares {length} bytes but only {limit - pos} remain"
        )
    if tag_class == CLASS_UNIVERSAL:
        if constructed and tag in _PRIMITIVE_ONLY:
            raise malformed(f"constructed encoding of universal type {tag} (BER) at offset {start}")
        if not constructed and tag in _CONSTRUCTED_ONLY:
            raise malformed(f"primitive SEQUENCE/SET at offset {start}")
        if tag == 0:
            raise malformed(f"end-of-contents marker (BER) at offset {start}")
    children: list[Tlv] = []
    if constructed:
        child_pos = header_end
        while child_pos < end:
            child = _walk(data, child_pos, end, depth + 1)
            children.append(child)
            child_pos = child.end
    return Tlv(tag_class, constructed, tag, start, header_end, end, tuple(children))


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def sequence_of_raw(*elements: bytes) -> bytes:
    """DER SEQUENCE wrapping already-encoded elements byte for byte (no re-encoding)."""
    body = b"".join(elements)
    return b"\x30" + encode_length(len(body)) + body
