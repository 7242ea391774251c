"""Every signature's /ByteRange digest, and the report's document digests, from one pass over the PDF.

pyHanko's EmbeddedPdfSignature.compute_digest() reads and hashes the file once per signature. It first
looks in `external_digests` (its cache, keyed by digest algorithm): seeding that with the digest computed
here makes pyHanko use ours for the messageDigest comparison (CMS, CAdES and the SM2 validator alike),
while it still does everything else.

`DocumentPass` hashes the whole file front to back with SM3 and SHA-256 on a thread, and keeps a copy of
both states every PIECE bytes. A signature's byte range is [0, a) + [b, c): its digest is the kept state
just before a, fed at most one piece up to a, then the few bytes after its /Contents. So the ten
signatures of a 50 MB document cost one pass per algorithm plus a few MiB, and the pass can start before
anything knows where the signatures are: `sealbridge verify` starts it as soon as the file is read, while
the verifier is still importing (formats.dochash: OpenSSL's hashes in `hashlib` release the GIL). The report's whole-file
digests are the pass's final states. Where that process can fork, `ForkedDocumentPass` makes the same
pass in a child process instead, which shares no GIL with the imports and leaves the process free to fork
its verify helper.

A signature that uses another digest (SHA-384, SHA-512, SHA-1...) gets it from one more pass for all
such (formats.rangedigest). A /ByteRange that cannot be digested here (not integers, negative, past the
end of the file) is not seeded: pyHanko then reads it itself and reaches the same verdict it always did.
"""

from __future__ import annotations

import re
import select
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stamping import gilhandoff
from stamping.pdf import forkshare

if TYPE_CHECKING:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

Pairs = tuple[tuple[int, int], ...]

#: What nearly every signature uses (SM2 signs with SM3; RSA and ECDSA seals here with SHA-256), and
#: what the report gives for the whole document.
PASS_ALGORITHMS = ("sm3", "sha256")


def _new_hash(name: str) -> Any:
    from formats.dochash import new_hash  # hashlib where it has the algorithm: it releases the GIL

    return new_hash(name)


class DocumentPass:
    """SM3 and SHA-256 of `data`, started on a thread at construction, with the states kept every PIECE
    bytes. Calling it gives (SM3 hex, SHA-256 hex) of the whole document, waiting for the pass, as
    VerifyOptions.document_digests_later expects."""

    #: Small enough that a range's digest re-reads little from the last kept state; large enough that the
    #: thread rarely waits for the GIL between pieces (each update ends by taking it back).
    PIECE = 1 << 20

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._kept: dict[str, list[Any]] = {alg: [] for alg in PASS_ALGORITHMS}
        self._final: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="pdf-document-pass", daemon=True)
        gilhandoff.begin()  # each piece ends by taking the GIL back: promptly, please (end() in _run)
        try:
            self._thread.start()
        except BaseException:
            gilhandoff.end()
            raise

    def _run(self) -> None:
        try:
            view = memoryview(self.data).cast("B")
            states = {alg: _new_hash(alg) for alg in PASS_ALGORITHMS}
            for start in range(0, len(view), self.PIECE):
                piece = view[start : start + self.PIECE]
                for alg, state in states.items():
                    self._kept[alg].append(state.copy())  # the state after `start` bytes
                    state.update(piece)
            self._final = states
        except Exception:  # noqa: BLE001 - never expected (memory?); the digests are then made on the caller's thread
            self._final = {}
        finally:
            gilhandoff.end()

    def _wait(self) -> bool:
        self._thread.join()
        return len(self._final) == len(PASS_ALGORITHMS)

    def ready(self) -> bool:
        """Is the pass over (calling it would not wait)?"""
        return not self._thread.is_alive()

    def __call__(self) -> tuple[str, str]:
        if not self._wait():
            return _whole(self.data)
        return self._final["sm3"].hexdigest(), self._final["sha256"].hexdigest()

    def digest(self, algorithm: str, pairs: Pairs) -> bytes:
        """The digest of the bytes of `pairs` ((offset, length), checked to lie in the document), in order."""
        view = memoryview(self.data).cast("B")
        if algorithm in PASS_ALGORITHMS and pairs and pairs[0][0] == 0 and self._wait():
            state = self._state_at(algorithm, pairs[0][1], view)
            rest = pairs[1:]
        else:
            state, rest = _new_hash(algorithm), pairs
        for offset, length in rest:
            state.update(view[offset : offset + length])
        return bytes(state.digest())

    def _state_at(self, algorithm: str, offset: int, view: memoryview) -> Any:
        if offset == len(view):
            return self._final[algorithm].copy()
        kept = self._kept[algorithm][offset // self.PIECE]
        state = kept.copy()
        state.update(view[offset - offset % self.PIECE : offset])
        return state


class ForkedDocumentPass:
    """DocumentPass's answers from a forked child process instead of a thread, for a process that verifies
    one document (`sealbridge verify`) and can fork (POSIX, no other thread yet: see can_fork()).

    A thread's pass shares the GIL with the imports and checks beside it: each piece ends by waiting for the
    GIL, which slows both, and while it runs no helper may be forked (stamping.pdf.forkshare). A child
    process shares neither. It finds the signatures' byte ranges itself (hinted_byte_ranges: the file's
    /ByteRange arrays, before anything has parsed it) and sends back the whole-file SM3 and SHA-256 and both
    digests of every hinted range, from one sweep (formats.rangedigest). A range it did not find (or a
    child that failed) is hashed here, so a wrong hint costs time, never a verdict: digests are looked up
    by the exact ranges pyHanko reads."""

    def __init__(self, data: bytes, child: tuple[int, int]) -> None:
        self.data = data
        self._answers: dict[tuple[str, Pairs], bytes] | None = None
        self._pid, self._read_end = child

    @classmethod
    def start(cls, data: bytes) -> ForkedDocumentPass | None:
        """The pass started in a child; None where no child can be started (the caller uses a DocumentPass)."""
        child = forkshare.start_child(lambda: _pass_answers(data))
        return None if child is None else cls(data, child)

    def ready(self) -> bool:
        """Has the child sent its answers (calling this would not wait)?"""
        if self._answers is not None:
            return True
        readable, _, _ = select.select([self._read_end], [], [], 0)
        return bool(readable)

    can_fork = staticmethod(forkshare.can_fork)

    def _wait(self) -> dict[tuple[str, Pairs], bytes]:
        if self._answers is None:
            answers = forkshare.child_result(self._pid, self._read_end, _child_time_limit(len(self.data)))
            self._answers = answers if isinstance(answers, dict) else {}
        return self._answers

    def __call__(self) -> tuple[str, str]:
        answers = self._wait()
        whole = ((0, len(self.data)),)
        found = [answers.get((alg, whole)) for alg in PASS_ALGORITHMS]
        if not all(isinstance(d, bytes) for d in found):
            return _whole(self.data)
        return found[0].hex(), found[1].hex()  # type: ignore[union-attr]

    def known(self, algorithm: str, pairs: Pairs) -> bytes | None:
        """The child's digest of exactly these ranges, if it computed one."""
        digest = self._wait().get((algorithm.lower(), pairs))
        return digest if isinstance(digest, bytes) else None


def start_pass(data: bytes) -> DocumentPass | ForkedDocumentPass:
    """The pass in a child process where one can be forked (see ForkedDocumentPass), else on a thread."""
    if ForkedDocumentPass.can_fork():
        forked = ForkedDocumentPass.start(data)
        if forked is not None:
            return forked
    return DocumentPass(data)


#: A /ByteRange array as signers write it: `/ByteRange [0 840 960 240]`, four numbers (every number
#: takes at least one whitespace before the next, so no run of digits can be split in more than one way:
#: the match never backtracks far, whatever the file holds).
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s+(\d{1,15})\s*\]")
#: More than this many /ByteRange arrays is no ordinary document: the rest is left to the parent.
_MAX_HINTS = 16
#: Nor is more than this many "/ByteRange" texts: the scan stops there, whatever it found.
_MAX_CANDIDATES = 256


def hinted_byte_ranges(data: bytes) -> list[Pairs]:
    """The (offset, length) pairs of the file's /ByteRange arrays that have a signature's shape, without
    parsing the PDF: where its signatures' digests will almost surely be asked for.

    The text may be anywhere (in a stream, in a comment), so what a hint may cost is bounded: only the
    shape every signer writes (`[0 a b c]`: from the start of the file to the signature's /Contents, then
    on from its end; forward, inside the file), at most _MAX_HINTS of them among the first _MAX_CANDIDATES
    texts, and no more bytes hashed twice than the file holds (each hint's second range is hashed on a state
    of its own). A signature of another shape, or one left out, has its digests made by the parent: slower,
    never wrong."""
    found: list[Pairs] = []
    hashed_again = 0
    examined = 0
    pos = data.find(b"/ByteRange")
    while pos >= 0 and len(found) < _MAX_HINTS and examined < _MAX_CANDIDATES:
        examined += 1
        match = _BYTE_RANGE.match(data, pos)
        if match:
            start, head, tail_start, tail = (int(v) for v in match.groups())
            pairs = ((start, head), (tail_start, tail))
            fits = start == 0 and head <= tail_start and tail_start + tail <= len(data)
            if fits and pairs not in found and hashed_again + tail <= len(data):
                found.append(pairs)
                hashed_again += tail
        pos = data.find(b"/ByteRange", pos + 10)
    return found


def _child_time_limit(size: int) -> float:
    """How long the parent waits for the child's pass before it kills it and hashes itself: far beyond what
    hashing `size` bytes takes on a slow, busy machine (two digests at 10 MB/s), so only a child that went
    wrong ever meets it."""
    return 30.0 + 2 * size / 10e6


def _pass_answers(data: bytes) -> dict[tuple[str, Pairs], bytes]:
    """{(algorithm, pairs): digest} for the whole file and every hinted range, SM3 and SHA-256."""
    from formats.rangedigest import DigestRequest, digest_ranges

    requests = [
        DigestRequest(alg, pairs)
        for pairs in (((0, len(data)),), *hinted_byte_ranges(data))
        for alg in PASS_ALGORITHMS
    ]
    digests = digest_ranges(data, requests)
    return {(r.algorithm, r.ranges): d for r, d in zip(requests, digests, strict=True)}


def _whole(data: bytes) -> tuple[str, str]:
    from stamping.docdigests import document_digests

    return document_digests(data)


class SignatureDigests:
    """Every range's SM3 and SHA-256: computed from a DocumentPass on a thread, or taken from what a
    ForkedDocumentPass's child sent; `seed()` waits for them and hands them to pyHanko."""

    def __init__(
        self,
        data: bytes,
        byte_ranges: Iterable[Sequence[object]],
        document: DocumentPass | ForkedDocumentPass,
    ) -> None:
        self._data = data
        self._document = document
        ranges = {pairs for br in byte_ranges if (pairs := _pairs(br, len(data))) is not None}
        self._requests = [(alg, pairs) for pairs in sorted(ranges) for alg in PASS_ALGORITHMS]
        self._digests: list[bytes] | None = None
        self._thread: threading.Thread | None = None
        if isinstance(document, DocumentPass):  # a forked pass has them already: no thread, nothing to wait
            self._thread = threading.Thread(target=self._run, name="pdf-range-digests", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert isinstance(self._document, DocumentPass)
        try:
            self._digests = [self._document.digest(alg, pairs) for alg, pairs in self._requests]
        except Exception:  # noqa: BLE001 - never expected; pyHanko then hashes on its own and the report says why
            self._digests = None

    def ready(self) -> bool:
        """Are the digests there (seed() would not wait)?"""
        return self._document.ready() if self._thread is None else not self._thread.is_alive()

    def _known(self) -> dict[tuple[str, Pairs], bytes | None] | None:
        if self._thread is None:
            assert isinstance(self._document, ForkedDocumentPass)
            return {(alg, pairs): self._document.known(alg, pairs) for alg, pairs in self._requests}
        self._thread.join()
        if self._digests is None:
            return None
        return dict(zip(self._requests, self._digests, strict=True))

    def seed(self, signatures: Sequence[EmbeddedPdfSignature]) -> None:
        """Seed each signature's byte range digest (nothing if the pass failed: pyHanko hashes itself)."""
        known = self._known()
        if known is None:
            return
        missing: list[tuple[EmbeddedPdfSignature, str, Pairs]] = []
        for emb in signatures:
            request = _request(emb, len(self._data))
            if request is None:
                continue
            algorithm, pairs = request
            digest = known.get((algorithm.lower(), pairs))
            if digest is not None:
                emb.external_digests[algorithm] = digest
            else:
                missing.append((emb, algorithm, pairs))
        if missing:  # a rarer digest (SHA-384, SHA-512, SHA-1...): one more pass serves them all
            from formats.errors import SealBridgeError
            from formats.rangedigest import DigestRequest, digest_ranges

            try:
                more = digest_ranges(self._data, [DigestRequest(alg, pairs) for _, alg, pairs in missing])
            except SealBridgeError:  # not expected (checked above); pyHanko hashes these on its own
                more = []
            for (emb, algorithm, _), digest in zip(missing, more, strict=False):
                emb.external_digests[algorithm] = digest


def _request(emb: EmbeddedPdfSignature, size: int) -> tuple[str, Pairs] | None:
    """(algorithm, ranges) pyHanko's compute_digest() would hash for this signature, if we can hash it."""
    algorithm = getattr(emb, "external_md_algorithm", None)
    if not isinstance(algorithm, str):
        return None
    if algorithm.lower() not in PASS_ALGORITHMS:
        from formats.rangedigest import supported  # what the second pass can hash (MD5 it refuses)

        if not supported(algorithm):
            return None
    try:
        pairs = _pairs(list(emb.byte_range), size)
    except TypeError:
        return None
    return None if pairs is None else (algorithm, pairs)


def _pairs(byte_range: Sequence[object], size: int) -> Pairs | None:
    values = list(byte_range)
    if len(values) % 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    numbers = [int(v) for v in values]  # type: ignore[call-overload]  # checked just above
    pairs = tuple(zip(numbers[0::2], numbers[1::2], strict=True))
    if any(offset < 0 or length < 0 or offset + length > size for offset, length in pairs):
        return None
    return pairs
