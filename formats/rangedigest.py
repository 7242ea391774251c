"""Digests of several byte ranges of one document, reading each byte once.

A PDF with N signatures asks for N digests, each over `[0, a) + [b, c)` of a different revision, plus the
report's SM3 and SHA-256 of the whole file. Hashed separately that is N + 2 passes over the file. Here every
request of one algorithm starts in one shared hash state; the sweep walks the file once in order and, at the
first byte some requests cover and others skip, branches the state with `copy()`. Requests that cover the
same bytes so far keep sharing a state, so a 50 MB original revision is hashed once per algorithm however
many signatures cover it. Bytes no request covers (the signatures' /Contents) are skipped, not read.

A request whose ranges go backwards or overlap (only a hostile file asks for that) cannot ride along a
forward pass; it is hashed on its own after the pass, reading its bytes again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from .dochash import Hasher, new_hash
from .errors import SealBridgeError

#: Bytes read from a file source at a time (a bytes source is hashed a whole segment per call). Large:
#: when the sweep runs on a thread beside Python work, each read and each update ends by taking the GIL
#: back, which may wait a switch interval (5 ms) behind the busy thread.
CHUNK = 4 << 20

#: The digests a signature's byte ranges may ask for (MD5 is not one: refused, not computed).
_ALGORITHMS = frozenset(
    ("sm3", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512")
)


@dataclass(frozen=True)
class DigestRequest:
    """Digest `algorithm` over the bytes of `ranges` ((offset, length) pairs), concatenated in order."""

    algorithm: str
    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def from_byte_range(cls, algorithm: str, byte_range: Sequence[int]) -> DigestRequest:
        """From a PDF /ByteRange: [offset1 length1 offset2 length2 ...]."""
        if len(byte_range) % 2:
            raise SealBridgeError(
                "DOC_MALFORMED", f"a byte range has an odd count of numbers: {len(byte_range)}"
            )
        values = [int(v) for v in byte_range]
        return cls(algorithm, tuple(zip(values[0::2], values[1::2], strict=True)))


def supported(algorithm: str) -> bool:
    return algorithm.lower() in _ALGORITHMS


def digest_ranges(
    source: bytes | bytearray | memoryview | BinaryIO, requests: Sequence[DigestRequest]
) -> list[bytes]:
    """The digest of each request, in order. `source` is the document's bytes, or a readable, seekable
    binary file (read in CHUNK pieces from where the ranges need it, never as a whole).

    Raises DOC_MALFORMED for a negative offset or length, or a range past the end of the source, and
    MECHANISM_UNSUPPORTED for an unknown algorithm, before hashing anything."""
    reader = _Source(source)
    plans = [_plan(req, reader.size) for req in requests]
    results: list[bytes | None] = [None] * len(requests)
    forward = [i for i, plan in enumerate(plans) if plan.forward]
    _sweep(reader, plans, forward, results)
    for i, plan in enumerate(plans):
        if not plan.forward:
            results[i] = _hash_alone(reader, plan)
    return [r for r in results if r is not None]


@dataclass
class _Plan:
    algorithm: str  # formats.dochash's name
    segments: list[tuple[int, int]]  # (start, end), end exclusive, empty ones dropped
    forward: bool  # each segment starts at or after the previous one's end


def _plan(req: DigestRequest, size: int) -> _Plan:
    algorithm = req.algorithm.lower()
    if algorithm not in _ALGORITHMS:
        raise SealBridgeError("MECHANISM_UNSUPPORTED", f"digest algorithm {req.algorithm!r}")
    segments: list[tuple[int, int]] = []
    for offset, length in req.ranges:
        if offset < 0 or length < 0:
            raise SealBridgeError("DOC_MALFORMED", f"byte range ({offset}, {length}) is negative")
        if offset + length > size:
            raise SealBridgeError(
                "DOC_MALFORMED",
                f"byte range ({offset}, {length}) ends past the end of the document ({size} bytes)",
            )
        if length:
            segments.append((offset, offset + length))
    forward = all(segments[k][0] >= segments[k - 1][1] for k in range(1, len(segments)))
    if forward:
        merged: list[tuple[int, int]] = []
        for start, end in segments:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        segments = merged
    return _Plan(algorithm, segments, forward)


class _Source:
    """Reads pieces of bytes (zero-copy views) or of a seekable file (seeking only when it must)."""

    def __init__(self, source: bytes | bytearray | memoryview | BinaryIO) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            self._view: memoryview | None = memoryview(source).cast("B")
            self._file: BinaryIO | None = None
            self.size = len(self._view)
        else:
            self._view = None
            self._file = source
            self.size = source.seek(0, os.SEEK_END)
            self._pos = -1

    def pieces(self, start: int, end: int) -> list[memoryview] | _Pieces:
        if self._view is not None:
            return [self._view[start:end]]
        return _Pieces(self, start, end)

    def read_at(self, pos: int, n: int) -> bytes:
        assert self._file is not None
        if self._pos != pos:
            self._file.seek(pos)
        data = self._file.read(n)
        if len(data) != n:
            raise SealBridgeError("DOC_MALFORMED", f"the document ended early at byte {pos + len(data)}")
        self._pos = pos + n
        return data


class _Pieces:
    def __init__(self, source: _Source, start: int, end: int) -> None:
        self._source, self._start, self._end = source, start, end

    def __iter__(self):  # type: ignore[no-untyped-def]
        pos = self._start
        while pos < self._end:
            n = min(CHUNK, self._end - pos)
            yield self._source.read_at(pos, n)
            pos += n


class _Group:
    """Requests of one algorithm that have covered exactly the same bytes so far, sharing one state."""

    def __init__(self, ctx: Hasher, members: list[int]) -> None:
        self.ctx = ctx
        self.members = members


def _sweep(reader: _Source, plans: list[_Plan], forward: list[int], results: list[bytes | None]) -> None:
    by_algorithm: dict[str, list[int]] = {}
    for i in forward:
        if not plans[i].segments:
            results[i] = new_hash(plans[i].algorithm).digest()
        else:
            by_algorithm.setdefault(plans[i].algorithm, []).append(i)
    groups = [_Group(new_hash(algorithm), members) for algorithm, members in by_algorithm.items()]
    cursor = dict.fromkeys((i for members in by_algorithm.values() for i in members), 0)
    bounds = sorted({b for i in cursor for seg in plans[i].segments for b in seg})
    for start, end in zip(bounds, bounds[1:], strict=False):
        feeding: list[_Group] = []
        for group in list(groups):
            covering = [i for i in group.members if plans[i].segments[cursor[i]][0] <= start]
            if not covering:
                continue
            if len(covering) < len(group.members):
                # The requests part ways here: the ones that skip these bytes keep the state as it is.
                rest = [i for i in group.members if i not in covering]
                groups.append(_Group(group.ctx.copy(), rest))
                group.members = covering
            feeding.append(group)
        if not feeding:
            continue  # a gap no request covers (a signature's /Contents): not read at all
        for piece in reader.pieces(start, end):
            for group in feeding:
                group.ctx.update(piece)
        for group in feeding:
            still: list[int] = []
            for i in group.members:
                segments = plans[i].segments
                if segments[cursor[i]][1] == end:
                    cursor[i] += 1
                    if cursor[i] == len(segments):
                        results[i] = group.ctx.digest()
                        continue
                still.append(i)
            group.members = still
        groups = [g for g in groups if g.members]


def _hash_alone(reader: _Source, plan: _Plan) -> bytes:
    ctx = new_hash(plan.algorithm)
    for start, end in plan.segments:
        for piece in reader.pieces(start, end):
            ctx.update(piece)
    return ctx.digest()
