"""Zip-level tools for OFD tests: replace one member's content, read members' raw (compressed) bytes."""

from __future__ import annotations

import io
import struct
import zipfile


def replace_entry(data: bytes, name: str, content: bytes) -> bytes:
    """`data` with member `name` holding `content` (a consistent zip: CRC and sizes recomputed), every member
    in the same order with the same compression."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            body = content if info.filename == name else src.read(info)
            out.writestr(info.filename, body, compress_type=info.compress_type)
    return buf.getvalue()


def store_entry(data: bytes, name: str) -> bytes:
    """`data` with member `name` stored instead of deflated (as producers write JPEG scans), the rest as it was."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            method = zipfile.ZIP_STORED if info.filename == name else info.compress_type
            out.writestr(info.filename, src.read(info), compress_type=method)
    return buf.getvalue()


def flip_byte(content: bytes) -> bytes:
    """One byte changed so the part still parses: an XML part's declared encoding changes case ("UTF-8" →
    "uTF-8", the same encoding to a parser), any other part's last byte flips its lowest bit."""
    marker = b'encoding="UTF-8"'
    at = content.find(marker)
    if at >= 0:
        pos = at + len(b'encoding="')
    else:
        pos = len(content) - 1
    flipped = bytearray(content)
    flipped[pos] ^= 0x20 if at >= 0 else 0x01
    return bytes(flipped)


def raw_member(data: bytes, name: str) -> tuple[int, int, int, int, bytes]:
    """(compression method, CRC-32, compressed size, uncompressed size, compressed bytes) of member `name`,
    read from its local header."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    head = data[info.header_offset : info.header_offset + 30]
    assert head[:4] == b"PK\x03\x04"
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    return (
        info.compress_type,
        info.CRC,
        info.compress_size,
        info.file_size,
        data[start : start + info.compress_size],
    )
