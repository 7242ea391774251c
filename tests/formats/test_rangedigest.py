"""formats.rangedigest: one pass over a document serves every byte range's digest, each byte read once."""

from __future__ import annotations

import io
import random

import pytest
from cryptography.hazmat.primitives import hashes

from formats import rangedigest
from formats.errors import SealBridgeError
from formats.rangedigest import DigestRequest, digest_ranges

_HASHES = {"sm3": hashes.SM3, "sha256": hashes.SHA256, "sha1": hashes.SHA1, "sha512": hashes.SHA512}


def _alone(data: bytes, req: DigestRequest) -> bytes:
    """The reference: hash the request's ranges on their own, concatenated in order."""
    ctx = hashes.Hash(_HASHES[req.algorithm]())
    for offset, length in req.ranges:
        ctx.update(data[offset : offset + length])
    return ctx.finalize()


def _signature_chain(size: int, revisions: int, rng: random.Random) -> list[tuple[int, int, int, int]]:
    """/ByteRange values of a PDF signed `revisions` times: each revision ends further on, with its own hole."""
    ends = sorted(rng.sample(range(size // 4, size + 1), revisions))
    ends[-1] = size
    out = []
    for end in ends:
        hole_start = rng.randrange(end // 2, end - 10)
        hole_len = rng.randrange(1, min(9, end - hole_start))
        out.append((0, hole_start, hole_start + hole_len, end - hole_start - hole_len))
    return out


class CountingStream(io.RawIOBase):
    """A seekable binary stream over bytes that records every (offset, length) read."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self.reads: list[tuple[int, int]] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else min(len(self._data), self._pos + n)
        chunk = self._data[self._pos : end]
        self.reads.append((self._pos, len(chunk)))
        self._pos = end
        return chunk

    def read_counts(self) -> list[int]:
        counts = [0] * len(self._data)
        for offset, length in self.reads:
            for k in range(offset, offset + length):
                counts[k] += 1
        return counts


@pytest.mark.parametrize("seed", range(8))
def test_matches_hashing_each_range_alone(seed: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    monkeypatch.setattr(rangedigest, "CHUNK", rng.choice([7, 64, 1 << 20]))  # chunk edges inside ranges
    data = rng.randbytes(rng.randrange(200, 5000))
    requests = [DigestRequest.from_byte_range(alg, br) for alg in ("sm3", "sha256")
                for br in _signature_chain(len(data), rng.randrange(1, 6), rng)]  # fmt: skip
    requests += [DigestRequest("sm3", ((0, len(data)),)), DigestRequest("sha256", ((0, len(data)),))]
    for _ in range(6):  # odd ones: several ranges, empty, overlapping, backwards, adjacent
        pairs = []
        for _ in range(rng.randrange(0, 5)):
            offset = rng.randrange(0, len(data))
            pairs.append((offset, rng.randrange(0, len(data) - offset + 1)))
        requests.append(DigestRequest(rng.choice(list(_HASHES)), tuple(pairs)))
    requests.append(DigestRequest("sha1", ((0, 10), (10, 20), (30, 0), (30, 5))))
    requests.append(DigestRequest("sha512", ()))
    rng.shuffle(requests)
    expected = [_alone(data, req) for req in requests]
    assert digest_ranges(data, requests) == expected
    assert digest_ranges(memoryview(data), requests) == expected
    assert digest_ranges(io.BytesIO(data), requests) == expected


def test_each_byte_is_read_once_and_holes_not_at_all(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rangedigest, "CHUNK", 100)
    rng = random.Random(7)
    data = rng.randbytes(3000)
    chain = _signature_chain(len(data), 5, rng)
    requests = [DigestRequest.from_byte_range("sm3", br) for br in chain]
    requests += [DigestRequest.from_byte_range("sha256", br) for br in chain]
    stream = CountingStream(data)
    assert digest_ranges(stream, requests) == [_alone(data, req) for req in requests]
    counts = stream.read_counts()
    assert max(counts) == 1, "a byte was read more than once"
    covered = {k for br in chain for k in (*range(br[0], br[1]), *range(br[2], br[2] + br[3]))}
    assert {k for k, c in enumerate(counts) if c} == covered  # nothing outside the ranges is read


def test_shared_prefix_is_hashed_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Ten revisions over a big original: the hash states are fed the original once, not ten times."""
    fed: list[int] = []
    real_new_hash = rangedigest.new_hash

    class CountingHash:
        def __init__(self, state) -> None:  # type: ignore[no-untyped-def]
            self._state = state

        def update(self, data) -> None:  # type: ignore[no-untyped-def]
            fed.append(len(data))
            self._state.update(data)

        def copy(self):  # type: ignore[no-untyped-def]
            return CountingHash(self._state.copy())

        def digest(self) -> bytes:
            return self._state.digest()

    data = random.Random(1).randbytes(100_000)
    chain, end = [], 90_000
    for _ in range(10):
        chain.append((0, end, end + 100, 500))
        end += 1000
    requests = [DigestRequest.from_byte_range("sm3", br) for br in chain]
    expected = [_alone(data, req) for req in requests]
    monkeypatch.setattr(rangedigest, "new_hash", lambda name: CountingHash(real_new_hash(name)))
    assert digest_ranges(data, requests) == expected
    # the shared 90,000 bytes once, then each revision's tail per state that covers it
    assert sum(fed) < 90_000 + 10 * 10_000


@pytest.mark.parametrize(
    ("ranges", "code"),
    [
        (((0, 10), (95, 10)), "DOC_MALFORMED"),  # past the end
        (((101, 0),), "DOC_MALFORMED"),  # starts past the end
        (((-1, 5),), "DOC_MALFORMED"),
        (((0, -5),), "DOC_MALFORMED"),
    ],
)
def test_bad_ranges_are_clear_errors(ranges, code) -> None:  # type: ignore[no-untyped-def]
    data = bytes(100)
    for source in (data, io.BytesIO(data)):
        with pytest.raises(SealBridgeError) as err:
            digest_ranges(source, [DigestRequest("sha256", ((0, 100),)), DigestRequest("sm3", ranges)])
        assert err.value.code == code
        assert "byte range" in str(err.value.detail)


def test_unknown_algorithm_and_odd_byte_range() -> None:
    with pytest.raises(SealBridgeError) as err:
        digest_ranges(b"abc", [DigestRequest("md5", ((0, 3),))])
    assert err.value.code == "MECHANISM_UNSUPPORTED"
    with pytest.raises(SealBridgeError) as err:
        DigestRequest.from_byte_range("sha256", [0, 1, 2])
    assert err.value.code == "DOC_MALFORMED"


def test_a_file_that_shrinks_while_read_is_an_error() -> None:
    class Shrinking(CountingStream):
        def read(self, n: int = -1) -> bytes:
            return super().read(n)[:1]

    with pytest.raises(SealBridgeError) as err:
        digest_ranges(Shrinking(bytes(50)), [DigestRequest("sm3", ((0, 50),))])
    assert err.value.code == "DOC_MALFORMED"
