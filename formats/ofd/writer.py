"""Writing an OFD package: unchanged entries are copied as their raw compressed bytes (no recompression,
so a 100 MB document costs one copy, and earlier signatures' hashes of those files stay meaningful), hashed
while they pass if asked; new or replaced entries are deflated. The output is streamed to a file object;
it is a plain zip (no zip64: inputs are bounded to 1 GiB).
"""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from formats.errors import SealBridgeError
from formats.ofd.package import Hasher, OfdPackage

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_UTF8_FLAG = 0x800
_LIMIT32 = 0xFFFFFFFF


def _dos_time(ts: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = ts
    y = max(y, 1980)
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


class _Record:
    __slots__ = (
        "name",
        "flags",
        "method",
        "dostime",
        "dosdate",
        "crc",
        "csize",
        "usize",
        "offset",
        "ext_attr",
    )

    def __init__(self, name: bytes, flags: int, method: int, dostime: int, dosdate: int, crc: int,
                 csize: int, usize: int, offset: int, ext_attr: int) -> None:  # fmt: skip
        self.name, self.flags, self.method = name, flags, method
        self.dostime, self.dosdate, self.crc = dostime, dosdate, crc
        self.csize, self.usize, self.offset, self.ext_attr = csize, usize, offset, ext_attr


class PackageWriter:
    """Streams a zip to `out`. Call copy_raw()/add() in the desired order, then close()."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pos = 0
        self.records: list[_Record] = []
        self.names: set[str] = set()

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.pos += len(data)

    def _check(self, name: str, size: int) -> None:
        if name in self.names:
            raise SealBridgeError("INTERNAL", f"duplicate entry {name!r} while writing")
        if self.pos + size > _LIMIT32:
            raise SealBridgeError("DOC_TOO_LARGE", "the output would need zip64")
        self.names.add(name)

    def _header(self, rec: _Record) -> None:
        self._write(
            _LOCAL.pack(
                0x04034B50,
                20,
                rec.flags,
                rec.method,
                rec.dostime,
                rec.dosdate,
                rec.crc,
                rec.csize,
                rec.usize,
                len(rec.name),
                0,
            )  # fmt: skip
            + rec.name
        )

    def copy_raw(self, pkg: OfdPackage, name: str, hashers: Sequence[Hasher] = ()) -> None:
        """Copy entry `name` of `pkg` with its compressed bytes untouched (CRC and sizes carried over). With
        `hashers`, the entry is also inflated from the very pieces being copied and fed to each: one read of
        the entry both copies and hashes it, under every bound of the package reader."""
        info = pkg.entries[name].info
        self._check(name, info.compress_size)
        pkg.raw_span(name)  # a bad local header or truncated data fails before anything is written
        dostime, dosdate = _dos_time(info.date_time)
        encoded, flags = _encode_name(name)
        rec = _Record(encoded, flags, info.compress_type, dostime, dosdate, info.CRC,
                      info.compress_size, info.file_size, self.pos, info.external_attr)  # fmt: skip
        self._header(rec)

        def copied() -> Iterator[memoryview]:
            for piece in pkg.raw_pieces(name):
                self._write(piece)
                yield piece

        pieces = copied()
        if hashers:
            for plain in pkg.inflate(name, name, pieces):
                for h in hashers:
                    h.update(plain)
        for _ in pieces:  # what inflation did not need (nothing, or bytes past the declared size)
            pass
        self.records.append(rec)

    def add(self, name: str, data: bytes, compress: bool = True) -> None:
        """Add a new entry (deflated unless `compress` is False)."""
        if compress:
            co = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = co.compress(data) + co.flush()
            method = zipfile.ZIP_DEFLATED
        else:
            payload, method = data, zipfile.ZIP_STORED
        self._check(name, len(payload))
        dostime, dosdate = _dos_time(time.gmtime()[:6])
        encoded, flags = _encode_name(name)
        rec = _Record(encoded, flags, method, dostime, dosdate, zlib.crc32(data) & _LIMIT32,
                      len(payload), len(data), self.pos, 0o100644 << 16)  # fmt: skip
        self._header(rec)
        self._write(payload)
        self.records.append(rec)

    def close(self) -> None:
        cd_start = self.pos
        for rec in self.records:
            self._write(
                _CENTRAL.pack(
                    0x02014B50,
                    20,
                    20,
                    rec.flags,
                    rec.method,
                    rec.dostime,
                    rec.dosdate,
                    rec.crc,
                    rec.csize,
                    rec.usize,
                    len(rec.name),
                    0,
                    0,
                    0,
                    0,
                    rec.ext_attr,
                    rec.offset,
                )  # fmt: skip
                + rec.name
            )
        cd_size = self.pos - cd_start
        if len(self.records) > 0xFFFF or cd_start > _LIMIT32:
            raise SealBridgeError("DOC_TOO_LARGE", "the output would need zip64")
        n = len(self.records)
        self._write(_END.pack(0x06054B50, 0, 0, n, n, cd_size, cd_start, 0))


def _encode_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_FLAG
