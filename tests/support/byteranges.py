"""A sealed PDF's /ByteRange arrays, and the bytes worth flipping to check that every seal covering a byte
catches its change (shared by the tests of the document pass on a thread and in a forked child)."""

from __future__ import annotations

import re

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")

ByteRange = tuple[int, int, int, int]


def byte_ranges(pdf: bytes) -> list[ByteRange]:
    """Each seal's /ByteRange, in signing order (the order the report lists the seals in)."""
    found = [tuple(int(v) for v in m.groups()) for m in _BYTE_RANGE.finditer(pdf)]
    return sorted(found, key=lambda br: br[2] + br[3])  # type: ignore[return-value]


def covers(br: ByteRange, pos: int) -> bool:
    return br[0] <= pos < br[0] + br[1] or br[2] <= pos < br[2] + br[3]


def edge_positions(ranges: list[ByteRange]) -> list[int]:
    """The first and last byte of each range of each seal, and a byte in the middle of each revision."""
    out: set[int] = set()
    previous_end = 0
    for a, b, c, d in ranges:
        out |= {a, a + b - 1, c, c + d - 1}
        out |= {
            (previous_end + a + b) // 2,
            (c + c + d) // 2,
        }  # inside this revision, both sides of /Contents
        previous_end = c + d
    return sorted(out)
