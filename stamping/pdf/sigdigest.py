"""Every signature's /ByteRange digest, and the report's document digests, in one pass over the PDF.

pyHanko's EmbeddedPdfSignature.compute_digest() reads and hashes the file once per signature. It first
looks in `external_digests` (its cache, keyed by digest algorithm): seeding that with the digest computed
here makes pyHanko use ours for the messageDigest comparison (CMS, CAdES and the SM2 validator alike),
while it still does everything else.

The pass starts on a second thread as soon as the byte ranges are known (from the pikepdf scan), before
pyHanko has parsed the signatures, so it asks for SM3 and SHA-256 of every range: the requests share their
hash states up to the first /Contents hole, so the second algorithm costs one pass, not one per signature,
and OpenSSL releases the GIL while it hashes, so the pass runs beside pyHanko's parsing and difference
analysis. A signature that turns out to use another digest gets it from one more pass, for all such.

A signature whose /ByteRange cannot be digested here (not integers, negative, past the end of the file) is
not seeded: pyHanko then reads it itself and reaches the same verdict it always did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from formats.errors import SealBridgeError
from formats.rangedigest import DigestRequest, digest_ranges, supported

Pairs = tuple[tuple[int, int], ...]

#: What nearly every signature uses (SM2 signs with SM3; RSA and ECDSA seals here with SHA-256).
_EARLY_ALGORITHMS = ("sm3", "sha256")


class SignatureDigests:
    """Starts hashing at construction; `seed()` waits for it and hands the digests to pyHanko."""

    def __init__(self, data: bytes, byte_ranges: Iterable[Sequence[object]], document: bool) -> None:
        self._data = data
        self._document = document
        ranges = {pairs for br in byte_ranges if (pairs := _pairs(br, len(data))) is not None}
        self._requests = [DigestRequest(alg, pairs) for pairs in sorted(ranges) for alg in _EARLY_ALGORITHMS]
        if document:
            whole = ((0, len(data)),)
            self._requests += [DigestRequest("sm3", whole), DigestRequest("sha256", whole)]
        self._digests: list[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="pdf-range-digests", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._digests = digest_ranges(self._data, self._requests)
        except Exception:  # noqa: BLE001 - never expected; pyHanko then hashes on its own and the report says why
            self._digests = None

    def seed(self, signatures: Sequence[EmbeddedPdfSignature]) -> tuple[str, str] | None:
        """Seed each signature's byte range digest; return (SM3 hex, SHA-256 hex) of the whole file when
        asked for at construction (None if the pass failed: the report then hashes the file itself)."""
        self._thread.join()
        if self._digests is None:
            return None
        known = {(req.algorithm, req.ranges): d for req, d in zip(self._requests, self._digests, strict=True)}
        missing: list[tuple[EmbeddedPdfSignature, DigestRequest]] = []
        for emb in signatures:
            request = _request(emb, len(self._data))
            if request is None:
                continue
            digest = known.get((request.algorithm.lower(), request.ranges))
            if digest is not None:
                emb.external_digests[request.algorithm] = digest
            else:
                missing.append((emb, request))
        if missing:  # a rarer digest (SHA-384, SHA-512, SHA-1...): one more pass serves them all
            try:
                more = digest_ranges(self._data, [r for _, r in missing])
            except SealBridgeError:  # not expected (checked above); pyHanko hashes these on its own
                more = []
            for (emb, request), digest in zip(missing, more, strict=False):
                emb.external_digests[request.algorithm] = digest
        if self._document:
            return self._digests[-2].hex(), self._digests[-1].hex()
        return None


def _request(emb: EmbeddedPdfSignature, size: int) -> DigestRequest | None:
    """What pyHanko's compute_digest() would hash for this signature, if we can hash it here."""
    algorithm = getattr(emb, "external_md_algorithm", None)
    if not isinstance(algorithm, str) or not supported(algorithm):
        return None
    try:
        pairs = _pairs(list(emb.byte_range), size)
    except TypeError:
        return None
    return None if pairs is None else DigestRequest(algorithm, pairs)


def _pairs(byte_range: Sequence[object], size: int) -> Pairs | None:
    values = list(byte_range)
    if len(values) % 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    numbers = [int(v) for v in values]  # type: ignore[call-overload]  # checked just above
    pairs = tuple(zip(numbers[0::2], numbers[1::2], strict=True))
    if any(offset < 0 or length < 0 or offset + length > size for offset, length in pairs):
        return None
    return pairs
