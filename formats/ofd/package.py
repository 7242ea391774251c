"""Bounded reading of an OFD package (a zip file).

Every limit is checked against the central directory before a byte is inflated. Inflation (zlib, straight
from the entry's bytes in the zip) is streamed in bounded chunks (64 KiB inflated, 1 MiB stored) and
stops at the declared size, as zipfile does: a header that lies about a 1 GiB entry being 400 bytes costs
400 bytes, and a stream shorter than declared or failing its CRC is refused. The same inflation runs while a writer copies
an entry's compressed bytes unchanged, so a stamper hashes what it copies in one read.
Names are package paths without a leading slash ("Doc_0/Document.xml"); lookups fall back to a
case-insensitive match because producers write "TPLS/TPL_0" in the zip and "Tpls/Tpl_0" in XML.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from formats.errors import SealBridgeError
from formats.gm import SM3Hasher
from formats.ofd.limits import DEFAULT_PACKAGE_LIMITS, PackageLimits, check_entry_count
from formats.ofd.xmlsafe import parse_xml

_CHUNK = 1 << 16
#: Compressed bytes handed to zlib (or copied) at a time.
_RAW_CHUNK = 1 << 20
_LOCAL_HEADER = 30
_UTF8_FLAG = 0x800
#: Patched data (bit 5), strong encryption (bit 6), an encrypted central directory (bit 13).
_UNREADABLE_FLAGS = 0x20 | 0x40 | 0x2000


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


@dataclass(frozen=True)
class Entry:
    name: str
    info: zipfile.ZipInfo

    @property
    def size(self) -> int:
        return self.info.file_size


def _inflated(raw: Iterable[bytes | memoryview], deflated: bool) -> Iterator[bytes | memoryview]:
    """Stored or raw-deflate data in bounded chunks whatever the compression ratio: stored pieces as they
    come (slices of the package, not copies), inflation at most _CHUNK bytes per call, the rest of its
    input kept for the next."""
    if not deflated:
        yield from raw
        return
    inflater = zlib.decompressobj(-15)
    for piece in raw:
        pending: bytes | memoryview = piece
        while pending and not inflater.eof:
            out = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            if out:
                yield out
    while not inflater.eof:  # output zlib holds back once all input is in
        out = inflater.decompress(b"", _CHUNK)
        if not out:
            raise EOFError("the compressed data ends before its end-of-stream marker")
        yield out


def _hash(factory: Callable[[], Hasher], data: bytes) -> bytes:
    h = factory()
    h.update(data)
    return h.digest()


def _malformed(msg: str) -> SealBridgeError:
    return SealBridgeError("DOC_MALFORMED", msg)


def _check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise _malformed("empty or NUL in a zip entry name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _malformed(f"absolute path in zip entry {name!r}")
    parts = name.replace("\\", "/").split("/")
    if any(p == ".." for p in parts):
        raise _malformed(f"'..' in zip entry {name!r}")


def stored_name(info: zipfile.ZipInfo, metadata_encoding: str | None = None) -> bytes:
    """The entry's name bytes as its central directory stores them: zipfile decoded them (UTF-8 when
    flagged, else the archive's metadata encoding, cp437 by default), both of which give the bytes back."""
    if info.flag_bits & _UTF8_FLAG:
        return info.orig_filename.encode("utf-8")
    return info.orig_filename.encode(metadata_encoding or "cp437")


def _unflagged_readings(info: zipfile.ZipInfo, metadata_encoding: str | None) -> list[str]:
    """An unflagged name's valid UTF-8 and GB18030 readings, in that order (none for a flagged name)."""
    if info.flag_bits & _UTF8_FLAG:
        return []
    raw = stored_name(info, metadata_encoding)
    found = []
    for encoding in ("utf-8", "gb18030"):
        try:
            found.append(raw.decode(encoding))
        except UnicodeDecodeError:
            pass
    return found


def entry_name(info: zipfile.ZipInfo, metadata_encoding: str | None = None) -> str:
    """The entry's name as the package's XML refers to it. A name flagged UTF-8 is what zipfile decoded.
    Unflagged, zipfile reads it as cp437 (the zip format's default), but OFD producers write UTF-8 or GBK
    there without the flag: "印章图片.png" would read "σì░τ½áσ¢╛τëç.png", and no Reference or BaseLoc
    would find it. So an unflagged name that is ASCII, valid UTF-8 or valid GB18030 is read so, in that
    order (GBK bytes are seldom valid UTF-8), and only otherwise as zipfile read it."""
    for reading in _unflagged_readings(info, metadata_encoding):
        if "\x00" not in reading:
            return reading.replace(os.sep, "/")  # as zipfile does with the names it decodes
    return info.filename


def name_readings(info: zipfile.ZipInfo, metadata_encoding: str | None = None) -> set[str]:
    """Every name a reader may give the entry: zipfile's, and for a name without the UTF-8 flag its valid
    UTF-8 and GB18030 readings too (in GB18030 a "\\" byte can be half of a character, so one reading may
    hold a separator another does not)."""
    return {info.filename, *_unflagged_readings(info, metadata_encoding)}


def fold_name(name: str) -> str:
    """The key two entry names (or package paths) collide on: case and the path separator do not tell
    parts apart. Whatever compares a Reference's path with the package's names compares these."""
    return name.replace("\\", "/").rstrip("/").lower()


class OfdPackage:
    """A read-only view of an OFD zip held in memory (`data`) with every bound checked up front."""

    def __init__(self, data: bytes, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS) -> None:
        self.data = data
        self.limits = limits
        check_entry_count(data, limits)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise _malformed(f"not an OFD (zip) package: {exc}") from None
        except (OSError, ValueError, EOFError, struct.error, NotImplementedError) as exc:
            # NotImplementedError: zipfile's word for a ZIP version or feature it does not read.
            raise _malformed(f"damaged zip: {exc}") from None
        infos = self.zip.infolist()
        if len(infos) > limits.max_entries:
            raise SealBridgeError(
                "DOC_TOO_LARGE", f"{len(infos)} zip entries; the limit is {limits.max_entries}"
            )
        self.entries: dict[str, Entry] = {}
        self._folded: dict[str, str] = {}
        total = 0
        for info in infos:
            name = entry_name(info, self.zip.metadata_encoding)
            _check_name(name)
            if name in self.entries or name + "/" in self.entries:
                raise _malformed(f"duplicate zip entry {name!r}")
            if info.flag_bits & 0x1:
                raise _malformed(f"encrypted zip entry {info.filename!r}")
            if info.flag_bits & _UNREADABLE_FLAGS:
                # Patched data (bit 5), strong encryption (6), an encrypted directory (13): zipfile and other
                # readers refuse these entries, so a verifier must not read them as plain ones.
                raise _malformed(
                    f"zip entry {info.filename!r} uses a feature readers refuse ({info.flag_bits:#x})"
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _malformed(f"unsupported compression {info.compress_type} in {info.filename!r}")
            total += info.file_size
            if total > limits.max_total_uncompressed:
                raise SealBridgeError(
                    "DOC_TOO_LARGE", f"uncompressed size exceeds {limits.max_total_uncompressed} bytes"
                )
            if info.file_size >= limits.ratio_min_size:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > limits.max_ratio:
                    raise SealBridgeError(
                        "DOC_TOO_LARGE",
                        f"{info.filename!r} compression ratio {ratio:.0f} exceeds {limits.max_ratio:.0f}",
                    )
            self.entries[name] = Entry(name, info)
        readings: dict[str, str] = {}  # folded reading -> the entry it belongs to
        for name, entry in self.entries.items():
            self._folded[fold_name(name)] = name
            for reading in {name, *name_readings(entry.info, self.zip.metadata_encoding)}:
                other = readings.setdefault(fold_name(reading), name)
                if other != name:
                    # Two names differing only in case or in "\" for "/" (Windows readers take both as a
                    # separator), or under any reading a reader may give an unflagged name: a verifier and a
                    # viewer could read different parts.
                    raise _malformed(
                        f"zip entries {other!r} and {name!r} differ only in case, separators or encoding"
                    )
        if self.find("OFD.xml") is None:
            raise _malformed("OFD.xml is missing: not an OFD package")
        self._hash_on_read: dict[str, Mapping[str, Callable[[], Hasher]]] = {}
        #: zip name → key → digest of the entries read whole since hash_when_read() asked for them.
        self.read_digests: dict[str, dict[str, bytes]] = {}

    def hash_when_read(self, wanted: Mapping[str, Mapping[str, Callable[[], Hasher]]]) -> None:
        """From now on, an entry in `wanted` (zip name → key → hash factory) that is read whole is also hashed
        from those same bytes (results in `read_digests`): a verifier that parses Document.xml and the pages
        anyway need not inflate them a second time for the References."""
        self._hash_on_read = dict(wanted)

    # --- names -------------------------------------------------------------------------------------
    def files(self) -> list[str]:
        """Every file (not directory) entry, in zip order."""
        return [n for n in self.entries if not n.endswith("/")]

    def find(self, path: str) -> str | None:
        """The zip name for a package path ("/Doc_0/x.xml" or "Doc_0/x.xml"), or None."""
        name = path.lstrip("/")
        if name in self.entries and not name.endswith("/"):
            return name
        folded = self._folded.get(fold_name(name))
        return folded if folded and not folded.endswith("/") else None

    def exists(self, path: str) -> bool:
        return self.find(path) is not None

    def _require(self, path: str) -> str:
        name = self.find(path)
        if name is None:
            raise _malformed(f"{path} is referenced but missing from the package")
        return name

    # --- content -----------------------------------------------------------------------------------
    def read(self, path: str, max_size: int | None = None) -> bytes:
        """The whole entry; DOC_TOO_LARGE before inflating anything if it is declared above `max_size`."""
        name = self._require(path)
        size = self.entries[name].size
        if max_size is not None and size > max_size:
            raise SealBridgeError("DOC_TOO_LARGE", f"{path} is {size} bytes; the limit here is {max_size}")
        out = bytearray()
        for chunk in self._chunks(name, path):
            out += chunk
        data = bytes(out)
        factories = self._hash_on_read.get(name)
        if factories and name not in self.read_digests:
            self.read_digests[name] = {key: _hash(factory, data) for key, factory in factories.items()}
        return data

    def raw_span(self, name: str) -> tuple[int, int]:
        """Where entry `name`'s compressed bytes lie in `data` (start, end), found through its local header,
        which must be a local header and name the same file as the central directory (two names for one
        entry would let a verifier and a viewer read different parts)."""
        info = self.entries[name].info
        start = info.header_offset
        head = self.data[start : start + _LOCAL_HEADER]
        if len(head) < _LOCAL_HEADER or head[:4] != b"PK\x03\x04":
            raise _malformed(f"bad local header for {name!r}")
        (local_flags,) = struct.unpack("<H", head[6:8])
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        local_name = self.data[start + _LOCAL_HEADER : start + _LOCAL_HEADER + name_len]
        encoding = "utf-8" if local_flags & _UTF8_FLAG else "cp437"  # as zipfile reads the local name
        if local_name.decode(encoding, "replace") != info.orig_filename:
            raise _malformed(f"the local header of {name!r} names another file")
        data_start = start + _LOCAL_HEADER + name_len + extra_len
        data_end = data_start + info.compress_size
        if data_end > len(self.data):
            raise _malformed(f"{name!r} is truncated")
        return data_start, data_end

    def raw_pieces(self, name: str) -> Iterator[memoryview]:
        """The entry's compressed bytes, as it lies in the zip, in slices (no copy)."""
        start, end = self.raw_span(name)
        view = memoryview(self.data)
        for off in range(start, end, _RAW_CHUNK):
            yield view[off : min(off + _RAW_CHUNK, end)]

    def _chunks(self, name: str, path: str) -> Iterator[bytes | memoryview]:
        return self.inflate(name, path, self.raw_pieces(name))

    def inflate(
        self, name: str, path: str, raw: Iterable[bytes | memoryview], *, check_crc: bool = True
    ) -> Iterator[bytes | memoryview]:
        """Entry `name` inflated from its compressed bytes `raw` (from raw_pieces(), possibly while they are
        copied elsewhere) in bounded chunks, never past its declared size: what a stream holds beyond it is
        not inflated (zipfile's rule); a stream shorter than declared or failing its CRC is DOC_MALFORMED.
        It may stop before `raw` is exhausted: a caller copying the pieces drains the rest itself.
        `check_crc=False` is for a caller that compares a cryptographic digest of the bytes anyway."""
        info = self.entries[name].info
        declared = info.file_size
        seen = 0
        crc = 0
        try:
            if declared:
                for out in _inflated(raw, info.compress_type == zipfile.ZIP_DEFLATED):
                    if seen + len(out) >= declared:
                        out = out[: declared - seen]
                        seen = declared
                        crc = zlib.crc32(out, crc) if check_crc else crc
                        yield out
                        break
                    seen += len(out)
                    crc = zlib.crc32(out, crc) if check_crc else crc
                    yield out
        except SealBridgeError:
            raise
        except MemoryError:
            raise SealBridgeError("DOC_TOO_LARGE", f"{path} does not fit in memory") from None
        except Exception as exc:  # zlib.error, EOFError… from a damaged or lying stream
            raise _malformed(f"cannot read {path}: {exc}") from None
        if seen != declared:
            raise _malformed(f"{path} holds {seen} bytes but its header declares {declared}")
        if check_crc and crc != info.CRC:
            raise _malformed(f"cannot read {path}: Bad CRC-32")

    def xml(self, path: str) -> etree._Element:
        return parse_xml(self.read(path, self.limits.max_xml_bytes), path, self.limits)

    def digest(self, path: str, hasher_factory: type = SM3Hasher) -> bytes:
        """Stream one entry through a hash (SM3 by default) without holding it in memory."""
        return self.digests(path, {"": hasher_factory})[0][""]

    def digests(
        self,
        path: str,
        factories: Mapping[str, Callable[[], Hasher]],
        keep_up_to: int = -1,
        *,
        digest_checks_integrity: bool = False,
    ) -> tuple[dict[str, bytes], bytes | None]:
        """One inflation of an entry feeding every hash in `factories` (key → digest), so an entry several
        signatures protect with different CheckMethods is still read once. With `keep_up_to` ≥ 0 the bytes
        come back too when the entry is declared no larger (small parts a check also reads whole).
        `digest_checks_integrity`: the caller compares the digests with signed values, so the CRC may go."""
        name = self._require(path)
        hashers = {key: factory() for key, factory in factories.items()}
        keep = 0 <= keep_up_to and self.entries[name].size <= keep_up_to
        kept = bytearray()
        # A digest the caller compares with a signed value is a far stronger check than CRC-32: skip the
        # CRC then (a fifth of an SM3 pass). Bytes kept for other checks, or no digest at all, keep it.
        check_crc = keep or not hashers or not digest_checks_integrity
        info = self.entries[name].info
        if info.compress_type == zipfile.ZIP_STORED:
            # Nothing to inflate: the hashes take the entry's bytes in the package whole, in one call each
            # (no copy, and OpenSSL keeps the GIL released for all of it).
            start, end = self.raw_span(name)
            raw: Iterable[memoryview] = (memoryview(self.data)[start:end],)
        else:
            raw = self.raw_pieces(name)
        for chunk in self.inflate(name, path, raw, check_crc=check_crc):
            for h in hashers.values():
                h.update(chunk)
            if keep:
                kept += chunk
        return {key: h.digest() for key, h in hashers.items()}, bytes(kept) if keep else None

    def iter_infos(self) -> Iterator[zipfile.ZipInfo]:
        for e in self.entries.values():
            yield e.info
