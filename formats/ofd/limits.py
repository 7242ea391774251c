"""Bounds on what an OFD package may contain, so a hostile file cannot exhaust memory or disk."""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

from formats.errors import SealBridgeError


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on one OFD package (entries, sizes, ratios, XML shape); the agent's per-connection protocol
    limits are agent.config.Limits."""

    max_entries: int = 10_000
    max_total_uncompressed: int = 1 << 30  # 1 GiB over all entries
    max_ratio: float = 200.0  # uncompressed / compressed, per entry
    #: Entries smaller than this are not ratio-checked: a few KB of repetitive XML compresses beyond 200:1
    #: legitimately and cannot exhaust anything.
    ratio_min_size: int = 1 << 20
    max_xml_bytes: int = 64 << 20  # one XML part
    max_xml_depth: int = 200
    max_xml_elements: int = 2_000_000
    #: The Signature.xml parts of one document together (each part is bounded by the limits above, and a
    #: document may list hundreds): read in order until this is spent, the rest reported unread.
    max_signature_xml_bytes_total: int = 64 << 20
    #: References over all of a document's signatures (each one's own count is bounded by max_entries: a
    #: signature cannot protect more files than a package may hold). Enough for 100 seals over 1,000 files.
    max_references_total: int = 100_000


DEFAULT_PACKAGE_LIMITS = PackageLimits()


def zip_records_bound(data: bytes) -> int | None:
    """At most how many entries zipfile will read from `data`'s central directory (None: no end record).

    zipfile reads the directory by its size in bytes, not by the count the end record declares: a record
    count taken from the end record alone lets a file declare one entry and hold millions, each a ZipInfo
    before anyone counts them. Every record starts with its signature, so counting signatures over the
    bytes the directory occupies bounds them (a signature inside a name only counts one too many)."""
    try:
        end = zipfile._EndRecData(io.BytesIO(data))  # noqa: SLF001 - stable since Python 2; no public API
    except (OSError, ValueError, struct.error):
        return None
    if not end:
        return None
    declared = int(end[zipfile._ECD_ENTRIES_TOTAL])  # noqa: SLF001
    location, size = int(end[zipfile._ECD_LOCATION]), int(end[zipfile._ECD_SIZE])  # noqa: SLF001
    # Where zipfile looks: just before the end record (and, with ZIP64, its record and locator).
    start = max(0, location - size - _ZIP64_END_BYTES)
    return max(declared, data.count(b"PK\x01\x02", start, max(start, location)))


_ZIP64_END_BYTES = 56 + 20  # the ZIP64 end record and its locator, between the directory and the end record


def check_entry_count(data: bytes, limits: PackageLimits = DEFAULT_PACKAGE_LIMITS) -> None:
    """DOC_TOO_LARGE when the zip holds (or may hold) more entries than `limits` allow; before zipfile
    reads its directory."""
    records = zip_records_bound(data)
    if records is not None and records > limits.max_entries:
        raise SealBridgeError("DOC_TOO_LARGE", f"{records} zip entries; the limit is {limits.max_entries}")
