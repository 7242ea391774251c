"""Writing an OFD package: unchanged entries are copied as their raw compressed bytes (no recompression,
so a 100 MB document costs one copy, and earlier signatures' hashes of those files stay meaningful), hashed
while they pass if asked; new or replaced entries are deflated. The output is streamed to a file object;
it is a plain zip (no zip64: inputs are bounded to 1 GiB).
A copied entry keeps its name exactly as the input stored it (bytes and UTF-8 flag, in the local header and
the central directory): many producers write UTF-8 or GBK names without the flag, and re-encoding the name
zipfile decoded (as cp437) would rename the file under every reader. Only new entries get our encoding.
"""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from formats.errors import SealBridgeError
from formats.ofd.package import Hasher, OfdPackage, fold_name, stored_name

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_UTF8_FLAG = 0x800
#: The flag bits a copied entry keeps: deflate's options (bits 1-2) and the UTF-8 name (bit 11). Not bit 3
#: (CRC and sizes follow the data: we write them in the local header and copy no descriptor), nor what the
#: package reader refuses anyway (encryption, patched data).
_COPIED_FLAGS = 0x0006 | _UTF8_FLAG
_LIMIT32 = 0xFFFFFFFF
_VERSION = 20  # 2.0: deflate, folders


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
        "made_by",
    )

    def __init__(self, name: bytes, flags: int, method: int, dostime: int, dosdate: int, crc: int,
                 csize: int, usize: int, offset: int, ext_attr: int, made_by: int = _VERSION) -> None:  # fmt: skip
        self.name, self.flags, self.method = name, flags, method
        self.dostime, self.dosdate, self.crc = dostime, dosdate, crc
        self.csize, self.usize, self.offset, self.ext_attr = csize, usize, offset, ext_attr
        #: "Version made by": its host byte says how ext_attr (and, for some unzips, an unflagged name) reads.
        self.made_by = made_by


class PackageWriter:
    """Streams a zip to `out`. Call copy_raw()/add() in the desired order, then close()."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pos = 0
        self.records: list[_Record] = []
        #: Written names as the package reader compares them (case ignored, "\" read as "/") → the name.
        self.names: dict[str, str] = {}

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.pos += len(data)

    def _check(self, name: str, size: int) -> None:
        # Two names the reader folds together would make our own output unreadable to our verifier (and let
        # a viewer and a verifier read different parts): the document's names leave no room for this one.
        key = fold_name(name)
        if key in self.names:
            raise SealBridgeError(
                "DOC_MALFORMED", f"zip entry {name!r} would collide with {self.names[key]!r} in the output"
            )
        if self.pos + size > _LIMIT32:
            raise SealBridgeError("DOC_TOO_LARGE", "the output would need zip64")
        self.names[key] = name

    def _header(self, rec: _Record, name: bytes, flags: int) -> None:
        self._write(
            _LOCAL.pack(
                0x04034B50,
                _VERSION,
                flags,
                rec.method,
                rec.dostime,
                rec.dosdate,
                rec.crc,
                rec.csize,
                rec.usize,
                len(name),
                0,
            )  # fmt: skip
            + name
        )

    def copy_raw(self, pkg: OfdPackage, name: str, hashers: Sequence[Hasher] = ()) -> None:
        """Copy entry `name` of `pkg` with its compressed bytes untouched (CRC and sizes carried over). With
        `hashers`, the entry is also inflated from the very pieces being copied and fed to each: one read of
        the entry both copies and hashes it, under every bound of the package reader."""
        info = pkg.entries[name].info
        self._check(name, info.compress_size)
        pkg.raw_span(name)  # a bad local header or truncated data fails before anything is written
        dostime, dosdate = _dos_time(info.date_time)
        local_name, local_flags = _local_name(pkg, info)
        rec = _Record(entry_name_bytes(pkg, info), info.flag_bits & _COPIED_FLAGS, info.compress_type,
                      dostime, dosdate, info.CRC, info.compress_size, info.file_size, self.pos,
                      info.external_attr, (info.create_system << 8) | info.create_version)  # fmt: skip
        self._header(rec, local_name, local_flags & _COPIED_FLAGS)

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
        """Add a new entry (deflated unless `compress` is False), its name in ASCII or flagged UTF-8."""
        encoded, flags = _encode_name(name)
        self._add(name, data, compress, encoded, flags, _VERSION, 0o100644 << 16)

    def replace(self, pkg: OfdPackage, name: str, data: bytes) -> None:
        """Write entry `name` of `pkg` with new content `data` (deflated) under the name it had, byte for
        byte, so a reader finds the new part exactly where it found the old one."""
        info = pkg.entries[name].info
        self._add(name, data, True, entry_name_bytes(pkg, info), info.flag_bits & _UTF8_FLAG,
                  (info.create_system << 8) | info.create_version, info.external_attr)  # fmt: skip

    def _add(self, name: str, data: bytes, compress: bool, encoded: bytes, flags: int, made_by: int,
             ext_attr: int) -> None:  # fmt: skip
        if compress:
            co = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = co.compress(data) + co.flush()
            method = zipfile.ZIP_DEFLATED
        else:
            payload, method = data, zipfile.ZIP_STORED
        self._check(name, len(payload))
        dostime, dosdate = _dos_time(time.gmtime()[:6])
        rec = _Record(encoded, flags, method, dostime, dosdate, zlib.crc32(data) & _LIMIT32,
                      len(payload), len(data), self.pos, ext_attr, made_by)  # fmt: skip
        self._header(rec, rec.name, rec.flags)
        self._write(payload)
        self.records.append(rec)

    def close(self) -> None:
        cd_start = self.pos
        for rec in self.records:
            self._write(
                _CENTRAL.pack(
                    0x02014B50,
                    rec.made_by,
                    _VERSION,
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


def entry_name_bytes(pkg: OfdPackage, info: zipfile.ZipInfo) -> bytes:
    """The entry's name bytes in the input's central directory."""
    return stored_name(info, pkg.zip.metadata_encoding)


def _local_name(pkg: OfdPackage, info: zipfile.ZipInfo) -> tuple[bytes, int]:
    """The name bytes and flags of the entry's local header (raw_span() has checked it names this entry)."""
    start = info.header_offset
    (flags,) = struct.unpack_from("<H", pkg.data, start + 6)
    (name_len,) = struct.unpack_from("<H", pkg.data, start + 26)
    return bytes(pkg.data[start + 30 : start + 30 + name_len]), flags
