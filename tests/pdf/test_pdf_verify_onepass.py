"""Verification with every digest from one pass: a byte flipped anywhere in a seal's signed ranges is caught
for that seal and for every later seal whose ranges cover it, and no seal whose ranges leave it out fails its
digest; pyHanko never hashes the file itself."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import pytest
from pyhanko.sign.validation import pdf_embedded

from formats import rangedigest
from formats.errors import SealBridgeError
from formats.gm import sm3
from stamping.pdf import sigdigest, verify
from stamping.placement import At, Seam
from tests.support.byteranges import byte_ranges, covers, edge_positions
from tests.support.pdf_flows import pyhanko_sign, stamp_pdf, trusting
from tests.support.pdf_maker import contract_pdf


@pytest.fixture(scope="module")
def sealed(sm2_party, ecdsa_party, rsa_party) -> tuple[bytes, list]:  # type: ignore[no-untyped-def]
    """Four revisions: SM2, ECDSA, RSA, then SM2 again on a seam."""
    pdf = contract_pdf(2)
    for party, place in ((sm2_party, At(1, 40, 40)), (ecdsa_party, At(1, 90, 40)),
                         (rsa_party, At(2, 40, 90)), (sm2_party, Seam("right"))):  # fmt: skip
        pdf = stamp_pdf(pdf, party, [place])
    return pdf, [sm2_party, ecdsa_party, rsa_party]


@pytest.fixture(params=["inline", "thread"])
def pass_kind(request, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """Both ways the pass runs: on the caller's thread (a document up to sigdigest.INLINE_UP_TO, as these
    are) and on its own thread (every document larger)."""
    if request.param == "thread":
        monkeypatch.setattr(sigdigest, "INLINE_UP_TO", -1)
    return request.param


def test_the_sealed_file_is_valid(sealed) -> None:  # type: ignore[no-untyped-def]
    pdf, parties = sealed
    report = verify(pdf, trusting(*parties))
    assert [s.verdict for s in report.seals] == ["valid"] * 4, report.to_dict()
    assert len(byte_ranges(pdf)) == 4


def test_a_flipped_byte_fails_exactly_the_seals_that_cover_it(sealed, pass_kind) -> None:  # type: ignore[no-untyped-def]
    pdf, parties = sealed
    ranges = byte_ranges(pdf)
    options = trusting(*parties)
    untouched_ok = 0
    for pos in edge_positions(ranges):
        tampered = bytearray(pdf)
        tampered[pos] ^= 0x01
        try:
            report = verify(bytes(tampered), options)
        except SealBridgeError as err:
            # Only the header (byte 0: "%PDF-" no more) makes the whole file unreadable, and every seal
            # covers it: refusing the document is catching it for all of them.
            assert err.code == "DOC_MALFORMED" and all(covers(br, pos) for br in ranges), (pos, err)
            continue
        assert len(report.seals) == len(ranges), pos
        for br, seal in zip(ranges, report.seals, strict=True):
            integrity = seal.checks["integrity"]
            if covers(br, pos):
                assert integrity.status == "failed", (pos, br, integrity)
                assert seal.verdict == "invalid", (pos, br)
            elif integrity.status == "ok":
                untouched_ok += 1
            else:
                # The byte broke the structure of a later revision (an xref offset, a dictionary): pyHanko
                # cannot analyse the changes after this seal and says so; its own digest still matched.
                assert integrity.code == "SIGNATURE_UNREADABLE", (pos, br, integrity)
    assert untouched_ok >= 10  # most flips leave the earlier seals' digests and structure intact


class _Counting:
    """A hash state that counts the bytes it is fed, per algorithm."""

    def __init__(self, state, fed: Counter) -> None:  # type: ignore[no-untyped-def]
        self._state, self._fed = state, fed

    def update(self, data) -> None:  # type: ignore[no-untyped-def]
        self._fed[self._state.name] += len(data)
        self._state.update(data)

    def copy(self) -> _Counting:
        return _Counting(self._state.copy(), self._fed)

    def digest(self) -> bytes:
        return self._state.digest()

    def hexdigest(self) -> str:
        return self._state.hexdigest()


def test_pyhanko_never_hashes_the_file(sealed, monkeypatch, pass_kind) -> None:  # type: ignore[no-untyped-def]
    """Every digest comes from the one pass: pyHanko's own byte-range hashing is never reached, no other
    pass runs, and each algorithm reads the file once plus, per signature, at most one piece (from the
    last kept state to its /Contents) and the bytes after its /Contents."""
    pdf, parties = sealed

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("hashed outside the one pass")

    fed: Counter = Counter()
    monkeypatch.setattr(pdf_embedded, "byte_range_digest", refuse)
    monkeypatch.setattr(rangedigest, "digest_ranges", refuse)
    monkeypatch.setattr(sigdigest, "_new_hash", lambda name: _Counting(hashlib.new(name), fed))
    monkeypatch.setattr(sigdigest.DocumentPass, "PIECE", 4096)  # many pieces, even in a small file
    report = verify(pdf, trusting(*parties))
    assert [s.verdict for s in report.seals] == ["valid"] * 4
    assert report.document["sm3"] == sm3(pdf).hex()
    assert report.document["sha256"] == hashlib.sha256(pdf).hexdigest()
    ranges = byte_ranges(pdf)
    most = len(pdf) + sum(4096 + d for _, _, _, d in ranges)
    assert set(fed) == {"sm3", "sha256"} and all(len(pdf) <= n <= most for n in fed.values()), (fed, most)


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_range_digests_from_the_pass_are_the_ranges_digests(
    sealed: tuple[bytes, list], monkeypatch: pytest.MonkeyPatch, piece: int, pass_kind: str
) -> None:
    pdf = sealed[0]
    monkeypatch.setattr(sigdigest.DocumentPass, "PIECE", piece)
    document = sigdigest.DocumentPass(pdf)
    n = len(pdf)
    cases = [
        ((0, 0),),
        ((0, n),),
        ((0, 1), (n - 1, 1)),
        ((0, 4095), (4097, n - 4097)),
        ((0, 4096), (5000, 3)),
    ]
    cases += [
        ((10, 20),),
        ((0, 5000), (100, 50)),
        ((0, n - 1), (0, 1)),
    ]  # not from 0, backwards: hashed as given
    for pairs in cases:
        for algorithm in ("sm3", "sha256", "sha512"):
            expected = hashlib.new(algorithm, b"".join(pdf[o : o + k] for o, k in pairs)).digest()
            assert document.digest(algorithm, pairs) == expected, (pairs, algorithm)
    assert document() == (sm3(pdf).hex(), hashlib.sha256(pdf).hexdigest())


def test_a_small_document_is_hashed_without_threads(sealed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Up to INLINE_UP_TO the pass and the ranges' digests are made on the caller's thread, finished when
    constructed; above it both run on threads (and give the same digests)."""
    pdf = sealed[0]
    assert len(pdf) <= sigdigest.INLINE_UP_TO
    ranges = byte_ranges(pdf)
    started: list[str] = []
    real_start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted_start)
    document = sigdigest.DocumentPass(pdf)
    digests = sigdigest.SignatureDigests(pdf, ranges, document)
    assert started == [] and document.ready() and digests.ready()
    inline = (document(), digests._known())
    monkeypatch.setattr(sigdigest, "INLINE_UP_TO", len(pdf) - 1)
    document = sigdigest.DocumentPass(pdf)
    digests = sigdigest.SignatureDigests(pdf, ranges, document)
    assert started == ["pdf-document-pass", "pdf-range-digests"]
    assert (document(), digests._known()) == inline
    assert inline[0] == (sm3(pdf).hex(), hashlib.sha256(pdf).hexdigest())
    assert len(inline[1] or {}) == 2 * len(ranges)


def test_document_digests_match_the_file(sealed) -> None:  # type: ignore[no-untyped-def]
    pdf, parties = sealed
    report = verify(pdf, trusting(*parties))
    assert report.document["sm3"] == sm3(pdf).hex()
    assert report.document["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_a_sha512_signature_after_our_seals(sealed, rsa_party) -> None:  # type: ignore[no-untyped-def]
    """A digest the early pass does not guess (SHA-512) gets one more pass, and a flip in it is caught."""
    pdf, parties = sealed
    signed = pyhanko_sign(pdf, rsa_party, "Sha512", md_algorithm="sha512")
    report = verify(signed, trusting(*parties))
    assert [s.extra["digest"] for s in report.seals][-1] == "sha512"
    assert [s.checks["integrity"].status for s in report.seals] == ["ok"] * 5, report.to_dict()
    tampered = bytearray(signed)
    tampered[signed.index(b"Contract page 1")] ^= 0x01  # page text in the original: every seal covers it
    report = verify(bytes(tampered), trusting(*parties))
    assert [s.checks["integrity"].code for s in report.seals] == ["BYTE_RANGE_DIGEST_MISMATCH"] * 5


def test_only_digests_a_pass_can_hash_are_requested() -> None:
    """The document pass serves SM3 and SHA-256, the second pass the rarer ones; MD5 neither: pyHanko
    is left to judge such a signature on its own, and the other rare digests still come from the pass."""
    from types import SimpleNamespace

    def request(algorithm: str) -> object:
        signature = SimpleNamespace(external_md_algorithm=algorithm, byte_range=[0, 10, 20, 10])
        return sigdigest._request(signature, 30)  # type: ignore[arg-type]

    assert request("sha256") == ("sha256", ((0, 10), (20, 10)))
    assert request("SHA512") == ("SHA512", ((0, 10), (20, 10)))
    assert request("md5") is None
    assert request("whirlpool") is None
