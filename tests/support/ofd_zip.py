"""Zip-level tools for OFD tests: replace one member's content, read members' raw (compressed) bytes and raw
names, store a name the way producers that skip the UTF-8 flag do."""

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


_EOCD = struct.Struct("<IHHHHIIH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_UTF8_FLAG = 0x800


def _central_records(data: bytes) -> list[tuple[int, bytes, int, int]]:
    """(offset of the central record, name bytes, flags, local header offset) of every member, in order."""
    end = data.rfind(b"PK\x05\x06")
    assert end >= 0, "no end of central directory"
    count, _size, pos = _EOCD.unpack_from(data, end)[4:7]
    out = []
    for _ in range(count):
        rec = _CENTRAL.unpack_from(data, pos)
        assert rec[0] == 0x02014B50
        flags, name_len, extra_len, comment_len, local = rec[3], rec[10], rec[11], rec[12], rec[16]
        out.append((pos, data[pos + 46 : pos + 46 + name_len], flags, local))
        pos += 46 + name_len + extra_len + comment_len
    return out


def raw_names(data: bytes) -> dict[bytes, tuple[int, bytes, int]]:
    """Each member's name bytes in the central directory → (its flags there, the name bytes and the flags of
    its local header): the names exactly as stored, whatever encoding a reader would decode them with."""
    out = {}
    for _pos, name, flags, local in _central_records(data):
        assert data[local : local + 4] == b"PK\x03\x04"
        (local_flags,) = struct.unpack_from("<H", data, local + 6)
        (local_len,) = struct.unpack_from("<H", data, local + 26)
        out[name] = (flags, data[local + 30 : local + 30 + local_len], local_flags)
    return out


def rename_unflagged(data: bytes, name: str, raw: bytes) -> bytes:
    """`data` with member `name` (ASCII, exactly as long as `raw`) stored under the name bytes `raw` with no
    UTF-8 flag, in its local header and the central directory: as producers that write UTF-8 or GBK names
    without the flag do (zipfile always flags a non-ASCII name it writes)."""
    old = name.encode("ascii")
    assert len(old) == len(raw)
    out = bytearray(data)
    hits = 0
    for pos, stored, flags, local in _central_records(data):
        if stored != old:
            continue
        hits += 1
        struct.pack_into("<H", out, pos + 8, flags & ~_UTF8_FLAG)
        out[pos + 46 : pos + 46 + len(raw)] = raw
        assert out[local + 30 : local + 30 + len(old)] == old
        (local_flags,) = struct.unpack_from("<H", out, local + 6)
        struct.pack_into("<H", out, local + 6, local_flags & ~_UTF8_FLAG)
        out[local + 30 : local + 30 + len(raw)] = raw
    assert hits == 1, f"{name!r} is not a member"
    return bytes(out)


def set_flag_bits(data: bytes, name: str, bits: int) -> bytes:
    """`data` with general-purpose flag `bits` set on member `name` (ASCII), in its local header and the
    central directory."""
    out = bytearray(data)
    hits = 0
    for pos, stored, flags, local in _central_records(data):
        if stored != name.encode("ascii"):
            continue
        hits += 1
        struct.pack_into("<H", out, pos + 8, flags | bits)
        (local_flags,) = struct.unpack_from("<H", out, local + 6)
        struct.pack_into("<H", out, local + 6, local_flags | bits)
    assert hits == 1, f"{name!r} is not a member"
    return bytes(out)
