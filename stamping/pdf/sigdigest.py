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
its verify helper; the parent tells it the byte ranges once it has parsed them.

A signature that uses another digest (SHA-384, SHA-512, SHA-1...) gets it from one more pass for all
such (formats.rangedigest). A /ByteRange that cannot be digested here (not integers, negative, past the
end of the file) is not seeded: pyHanko then reads it itself and reaches the same verdict it always did.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stamping.pdf import forkshare

# json, threading and gilhandoff (threading too) are imported where used: `sealbridge verify` of a large PDF
# imports this module before it forks its hashing child, while only one core works (they took ~4 ms there).
if TYPE_CHECKING:
    import threading

    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

Pairs = tuple[tuple[int, int], ...]

#: What nearly every signature uses (SM2 signs with SM3; RSA and ECDSA seals here with SHA-256), and
#: what the report gives for the whole document.
PASS_ALGORITHMS = ("sm3", "sha256")

#: Documents up to this size are hashed on the caller's thread: two threads' start and join and the GIL
#: passed back and forth cost more than hashing them (about 1 ms at this size). For the one-page sealed
#: PDFs of bench/batch_verify.py, verified in one warm process: 9.1 -> 8.1 ms each (medians, interleaved).
INLINE_UP_TO = 256 << 10


def _new_hash(name: str) -> Any:
    from formats.dochash import new_hash  # hashlib where it has the algorithm: it releases the GIL

    return new_hash(name)


class _KeptStates:
    """SM3 and SHA-256 of `data` front to back, with a copy of both states kept every `piece` bytes: then
    the digest of a range from the start of the file to any offset costs at most one piece more."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data = data
        self.piece = piece
        self._kept: dict[str, list[Any]] = {alg: [] for alg in PASS_ALGORITHMS}
        self.final: dict[str, Any] = {}

    def run(self) -> None:
        view = memoryview(self.data).cast("B")
        states = {alg: _new_hash(alg) for alg in PASS_ALGORITHMS}
        for start in range(0, len(view), self.piece):
            piece = view[start : start + self.piece]
            for alg, state in states.items():
                self._kept[alg].append(state.copy())  # the state after `start` bytes
                state.update(piece)
        self.final = states

    def digest(self, algorithm: str, pairs: Pairs) -> bytes:
        """The digest of the bytes of `pairs` ((offset, length), checked to lie in the document), in order;
        from a kept state when they start at the start of the file (and the pass is over)."""
        view = memoryview(self.data).cast("B")
        if algorithm in PASS_ALGORITHMS and pairs and pairs[0][0] == 0 and self.final:
            state = self._state_at(algorithm, pairs[0][1], view)
            rest = pairs[1:]
        else:
            state, rest = _new_hash(algorithm), pairs
        for offset, length in rest:
            state.update(view[offset : offset + length])
        return bytes(state.digest())

    def _state_at(self, algorithm: str, offset: int, view: memoryview) -> Any:
        if offset == len(view):
            return self.final[algorithm].copy()
        state = self._kept[algorithm][offset // self.piece].copy()
        state.update(view[offset - offset % self.piece : offset])
        return state


class DocumentPass:
    """SM3 and SHA-256 of `data`, started on a thread at construction (done there and then for a document
    of up to INLINE_UP_TO bytes), with the states kept every PIECE bytes. Calling it gives (SM3 hex,
    SHA-256 hex) of the whole document, waiting for the pass, as VerifyOptions.document_digests_later
    expects."""

    #: Small enough that a range's digest re-reads little from the last kept state; large enough that the
    #: thread rarely waits for the GIL between pieces (each update ends by taking it back).
    PIECE = 1 << 20

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._states = _KeptStates(data, self.PIECE)
        self._thread: threading.Thread | None = None
        if len(data) <= INLINE_UP_TO:
            self._hash()
            return
        import threading

        from stamping import gilhandoff

        self._thread = threading.Thread(target=self._run, name="pdf-document-pass", daemon=True)
        gilhandoff.begin()  # each piece ends by taking the GIL back: promptly, please (end() in _run)
        try:
            self._thread.start()
        except BaseException:
            gilhandoff.end()
            raise

    @property
    def on_a_thread(self) -> bool:
        return self._thread is not None

    def _hash(self) -> None:
        try:
            self._states.run()
        except Exception:  # noqa: BLE001 - never expected (memory?); the digests are then made on the caller's thread
            self._states.final = {}

    def _run(self) -> None:
        from stamping import gilhandoff

        try:
            self._hash()
        finally:
            gilhandoff.end()

    def _wait(self) -> bool:
        if self._thread is not None:
            self._thread.join()
        return len(self._states.final) == len(PASS_ALGORITHMS)

    def ready(self) -> bool:
        """Is the pass over (calling it would not wait)?"""
        return self._thread is None or not self._thread.is_alive()

    def __call__(self) -> tuple[str, str]:
        if not self._wait():
            return _whole(self.data)
        final = self._states.final
        return final["sm3"].hexdigest(), final["sha256"].hexdigest()

    def digest(self, algorithm: str, pairs: Pairs) -> bytes:
        """The digest of the bytes of `pairs` ((offset, length), checked to lie in the document), in order."""
        self._wait()
        return self._states.digest(algorithm, pairs)


class ForkedDocumentPass:
    """DocumentPass's answers from a forked child process instead of a thread, for a process that verifies
    one document (`sealbridge verify`) and can fork (POSIX, no other thread yet: see can_fork()).

    A thread's pass shares the GIL with the imports and checks beside it: each piece ends by waiting for the
    GIL, which slows both, and while it runs no helper may be forked (stamping.pdf.forkshare). A child
    process shares neither. It hashes the whole file with SM3 and SHA-256 while this process imports and
    parses, keeping both states every piece (_KeptStates). Once the signatures are parsed, request() sends
    it their byte ranges; it answers each range of the shape a signer writes (from the start of the file to
    the /Contents, then on) from the state kept just before the hole, and sends those digests with the
    whole file's. A range it was not asked for or did not answer (see _answerable), or a child that failed,
    is hashed here: slower, never wrong, since digests are looked up by the exact ranges pyHanko reads."""

    def __init__(self, data: bytes, child: tuple[int, int], requests: int) -> None:
        self.data = data
        self._answers: dict[tuple[str, Pairs], bytes] | None = None
        self._pid, self._read_end = child
        self._requests: int | None = requests

    @classmethod
    def start(cls, data: bytes, fill: Callable[[], bool] | None = None) -> ForkedDocumentPass | None:
        """The pass started in a child; None where no child can be started (the caller uses a DocumentPass).
        With `fill`, the child first calls it to put the document into `data` (memory it shares with this
        process: agent.cli.sharedread), and hashes only if that says the document is whole."""
        try:
            request_read, request_write = os.pipe()
        except OSError:
            return None

        def work() -> dict[tuple[str, Pairs], bytes]:
            # Only the parent asks: a child holding the asking end of a pipe (its own, or another pass's
            # still open in the parent) would keep that child from ever seeing the end of its requests.
            for fd in (request_write, *_ASKING):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if fill is not None and not fill():
                os.close(request_read)
                return {}
            return _pass_answers(data, request_read)

        child = forkshare.start_child(work)
        os.close(request_read)
        if child is None:
            os.close(request_write)
            return None
        _ASKING.add(request_write)
        return cls(data, child, request_write)

    def request(self, ranges: Iterable[Pairs]) -> None:
        """Ask the child for the digests of these ranges (the first _MAX_REQUESTS); only the first call
        asks anything. The child answers once this process asked, or said it will not (_wait)."""
        fd = self._requests
        if fd is None:
            return
        size = len(self.data)
        wanted = [
            [list(pair) for pair in pairs]
            for pairs in ranges
            if len(pairs) <= _MAX_PAIRS and _answerable(pairs, size)  # what the child would answer
        ][:_MAX_REQUESTS]
        try:
            # At most a few KB, which the pipe takes at once (the child reads them once it has hashed the
            # file): this process never waits here. Were the pipe full, the child would get a cut request
            # it cannot read, and this process would hash the ranges itself.
            os.set_blocking(fd, False)
            import json

            payload = memoryview(json.dumps(wanted).encode("ascii"))
            while payload:
                payload = payload[os.write(fd, payload) :]
        except OSError:
            pass  # the child is gone (its answers, none, say so) or the pipe is full: this process hashes
        finally:
            self._no_more_requests()

    def _no_more_requests(self) -> None:
        fd, self._requests = self._requests, None
        if fd is not None:
            _ASKING.discard(fd)
            os.close(fd)

    def __del__(self) -> None:
        # A pass dropped before it was asked anything (the document was refused): the child answers the
        # whole file and ends instead of waiting for requests.
        with contextlib.suppress(Exception):
            self._no_more_requests()

    def ready(self) -> bool:
        """Has the child sent its answers (calling this would not wait)?"""
        if self._answers is not None:
            return True
        readable, _, _ = select.select([self._read_end], [], [], 0)
        return bool(readable)

    can_fork = staticmethod(forkshare.can_fork)

    def cancel(self) -> None:
        """Not wanted after all (the document it was to read is read again): the child is ended and reaped
        now, and nothing is answered."""
        if self._answers is None:
            self._no_more_requests()
            forkshare.child_result(self._pid, self._read_end, timeout=0)  # closes, kills and reaps
            self._answers = {}

    def _wait(self) -> dict[tuple[str, Pairs], bytes]:
        if self._answers is None:
            self._no_more_requests()
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


#: The asking ends of the passes still waiting for their request (each child closes them all).
_ASKING: set[int] = set()
#: How many ranges the child is asked for at most (a document with more signatures has the rest hashed by
#: the parent, in one more pass for all of them).
_MAX_REQUESTS = 64
#: The most pairs a requested range may have (a signer writes two: before and after its /Contents).
_MAX_PAIRS = 4
#: The most the request may take (64 ranges of 4 pairs take at most 12 KB).
_MAX_REQUEST_BYTES = 64 << 10
#: How long the child waits for the request once it has hashed the file: a parent still parsing after that
#: hashes the ranges itself.
_REQUEST_WAIT = 60.0


def _child_time_limit(size: int) -> float:
    """How long the parent waits for the child's pass before it kills it and hashes itself: far beyond what
    hashing `size` bytes (two digests at 10 MB/s) and waiting for the request take on a slow, busy machine,
    so only a child that went wrong ever meets it."""
    return 30.0 + _REQUEST_WAIT + 2 * size / 10e6


def _child_piece(size: int) -> int:
    """The child keeps its states every 64 KiB (a range then re-hashes at most that much), and at most
    about 4,096 of each (a 2 GiB file: every 512 KiB)."""
    return max(64 << 10, -(-size // 4096))


def _pass_answers(data: bytes, requests: int) -> dict[tuple[str, Pairs], bytes]:
    """(In the child.) {(algorithm, pairs): digest}, SM3 and SHA-256, for the whole file and for each range
    the parent asks for that _answerable() takes."""
    states = _KeptStates(data, _child_piece(len(data)))
    states.run()
    whole = ((0, len(data)),)
    answers = {(alg, whole): bytes(states.final[alg].digest()) for alg in PASS_ALGORITHMS}
    hashed_again = 0
    for pairs in _read_requests(requests):
        again = sum(length for _, length in pairs[1:])
        if not _answerable(pairs, len(data)) or hashed_again + again > len(data):
            continue
        hashed_again += again
        for alg in PASS_ALGORITHMS:
            answers[(alg, pairs)] = states.digest(alg, pairs)
    return answers


def _answerable(pairs: Pairs, size: int) -> bool:
    """Does the range start at the start of the file (a kept state serves it) and go forward inside it? No
    more bytes are hashed a second time for all requests together than the file holds (_pass_answers)."""
    end = 0
    for i, (offset, length) in enumerate(pairs):
        if offset < end or length < 0 or offset + length > size or (i == 0 and offset != 0):
            return False
        end = offset + length
    return bool(pairs)


def _read_requests(fd: int) -> list[Pairs]:
    """(In the child.) The ranges the parent asks for: a JSON list of [[offset, length], ...], read until
    the parent closes its end; nothing if it sends nothing usable or takes longer than _REQUEST_WAIT."""
    pieces: list[bytes] = []
    size = 0
    deadline = time.monotonic() + _REQUEST_WAIT
    try:
        while size <= _MAX_REQUEST_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return []
            piece = os.read(fd, 1 << 16)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        else:
            return []
        import json

        wanted = json.loads(b"".join(pieces) or b"[]")
        return [_as_pairs(item) for item in wanted[:_MAX_REQUESTS]]
    except (OSError, ValueError, TypeError):
        return []
    finally:
        os.close(fd)


def _as_pairs(item: object) -> Pairs:
    if not isinstance(item, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(type(v) is int for v in p) for p in item
    ):
        raise TypeError("not a list of [offset, length] pairs")
    return tuple((p[0], p[1]) for p in item)


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
        if isinstance(document, ForkedDocumentPass):
            document.request(sorted(ranges))  # the child computes them (no thread here: none may stop a fork)
        elif document.on_a_thread:
            import threading

            self._thread = threading.Thread(target=self._run, name="pdf-range-digests", daemon=True)
            self._thread.start()
        else:  # a small document's pass is over already: its ranges take less than a thread would
            self._run()

    def _run(self) -> None:
        assert isinstance(self._document, DocumentPass)
        try:
            self._digests = [self._document.digest(alg, pairs) for alg, pairs in self._requests]
        except Exception:  # noqa: BLE001 - never expected; pyHanko then hashes on its own and the report says why
            self._digests = None

    def ready(self) -> bool:
        """Are the digests there (seed() would not wait)?"""
        if self._thread is not None:
            return not self._thread.is_alive()
        return self._document.ready()

    def _known(self) -> dict[tuple[str, Pairs], bytes | None] | None:
        if isinstance(self._document, ForkedDocumentPass):
            return {(alg, pairs): self._document.known(alg, pairs) for alg, pairs in self._requests}
        if self._thread is not None:
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
