"""The document pass in a forked child (stamping.pdf.sigdigest.ForkedDocumentPass), as `sealbridge verify`
runs it: the same digests as the pass on a thread, each signature's digest from the child where this process
asked for its byte range, from this process where it did not, and the same report either way; a byte flipped in a signed
range is still caught for every seal that covers it."""

from __future__ import annotations

import hashlib
import json

import pytest

from formats.gm import sm3
from stamping.placement import At
from tests.support.byteranges import byte_ranges, covers, edge_positions
from tests.support.fresh_python import run_python, run_python_ok
from tests.support.pdf_flows import root_files, stamp_pdf
from tests.support.pdf_maker import contract_pdf


@pytest.fixture(scope="module")
def sealed(sm2_party, ecdsa_party, tmp_path_factory) -> tuple[bytes, list[str]]:  # type: ignore[no-untyped-def]
    """Three revisions (SM2, ECDSA, SM2), written to a file, with the paths of the two roots."""
    pdf = contract_pdf(2)
    for party, place in (
        (sm2_party, At(1, 40, 40)),
        (ecdsa_party, At(1, 90, 40)),
        (sm2_party, At(2, 40, 90)),
    ):
        pdf = stamp_pdf(pdf, party, [place])
    folder = tmp_path_factory.mktemp("forked")
    (folder / "doc.pdf").write_bytes(pdf)
    return pdf, [str(folder / "doc.pdf"), *root_files(folder, sm2_party, ecdsa_party)]


#: In a fresh process (the test process may run threads: no fork there).
_SAME_AS_THE_THREAD = """
import sys
from stamping.pdf.sigdigest import DocumentPass, ForkedDocumentPass
from tests.support.byteranges import byte_ranges

pdf = open(sys.argv[1], "rb").read()
assert ForkedDocumentPass.can_fork()
forked, threaded = ForkedDocumentPass.start(pdf), DocumentPass(pdf)
assert forked is not None
asked = [((a, b), (c, d)) for a, b, c, d in byte_ranges(pdf)]
assert len(asked) == 3
forked.request(asked[:2])
forked.request(asked[2:])  # asked once: a second request adds nothing
assert forked() == threaded()
for pairs in asked[:2]:
    for alg in ("sm3", "sha256", "SHA256"):
        assert forked.known(alg, pairs) == threaded.digest(alg.lower(), pairs), (alg, pairs)
assert forked.known("sha256", asked[2]) is None  # not asked for
assert forked.known("sha512", asked[0]) is None  # not what the child computes
assert forked.ready()
print("ok")
"""


def test_the_child_answers_the_ranges_it_is_asked_for(sealed) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_SAME_AS_THE_THREAD, sealed[1][0])


#: Requests are bounded: only ranges from the start of the file going forward inside it, at most 64, and no
#: more bytes hashed a second time (every range after the first pair) than the file holds.
_BOUNDED = """
import hashlib, os
from stamping.pdf.sigdigest import ForkedDocumentPass

data = os.urandom(300_000)
def sha(pairs):
    return hashlib.sha256(b"".join(data[o : o + n] for o, n in pairs)).digest()

many = [((0, 1000 + i), (2000 + i, 10)) for i in range(100)]
forked = ForkedDocumentPass.start(data)
forked.request(many)
assert [forked.known("sha256", p) is not None for p in many] == [True] * 64 + [False] * 36
assert all(forked.known("sha256", p) == sha(p) for p in many[:64])

odd = [
    ((5, 10), (20, 10)),  # not from the start of the file
    ((0, 10), (5, 10)),  # backwards: the second starts inside the first
    ((0, 10), (20, 300_000)),  # past the end
    ((0, -1), (20, 10)),  # a negative length
    ((0, 10), (100, 200_000)),  # fine: 200,000 bytes again
    ((0, 11), (100, 200_000)),  # fine, but 400,000 bytes again are more than the file holds
    ((0, 12), (100, 99_000), (200_000, 1_000)),  # three pairs, forward: 100,000 more, within the bound
]
forked = ForkedDocumentPass.start(data)
forked.request(odd)
assert [forked.known("sha256", p) is not None for p in odd] == [False] * 4 + [True, False, True]
assert forked.known("sha256", odd[6]) == sha(odd[6]) and forked.known("sm3", odd[4]) is not None

# A /ByteRange of 12,001 pairs (any number of integers parses) is not asked for at all: a request the pipe
# could not take at once would keep the parent waiting until the child had hashed the whole file.
huge = ((0, 10),) + tuple((20 + 2 * i, 1) for i in range(12_000))
forked = ForkedDocumentPass.start(data)
forked.request([huge, ((0, 10), (20, 10))])
assert forked.known("sha256", huge) is None and forked.known("sha256", ((0, 10), (20, 10))) is not None
print("ok")
"""


def test_what_requests_may_cost_is_bounded() -> None:
    run_python_ok(_BOUNDED)


#: A pass nobody asks anything (an unsigned file, a refused one) still answers for the whole file, and one
#: dropped unasked lets its child end instead of waiting for a request. Two passes at once: the second
#: child does not hold the first's asking end open (the first would wait for its request until the second
#: ended; here the wait is made longer than the test's time limit, so that would fail it).
_UNASKED = """
import gc, hashlib, os, time
from formats.gm import sm3
from stamping.pdf import sigdigest
from stamping.pdf.sigdigest import ForkedDocumentPass

sigdigest._REQUEST_WAIT = 3600
data = os.urandom(100_000)
forked = ForkedDocumentPass.start(data)
assert forked() == (sm3(data).hex(), hashlib.sha256(data).hexdigest())
first, second = ForkedDocumentPass.start(data), ForkedDocumentPass.start(data)
first.request([((0, 10), (20, 10))])
assert first.known("sha256", ((0, 10), (20, 10))) == hashlib.sha256(data[:10] + data[20:30]).digest()
second.request([])
assert second() == forked()
dropped = ForkedDocumentPass.start(data)
pid = dropped._pid
del dropped
gc.collect()
deadline = time.monotonic() + 60
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    assert time.monotonic() < deadline, "the child of a dropped pass is still waiting"
    os.sched_yield()
print("ok")
"""


def test_a_pass_asked_nothing_answers_for_the_file_and_ends() -> None:
    run_python_ok(_UNASKED, timeout=120)


#: verify() with a forked pass that was asked for no range (or whose child failed): the digests are made here
#: instead.
_VERIFY = """
import json, sys
from dataclasses import replace
from stamping.options import VerifyOptions
from stamping.pdf import forkshare, sigdigest, verify

mode, path, *roots = sys.argv[1:]
if mode == "nothing asked":
    sigdigest.ForkedDocumentPass.request = lambda self, ranges: None
elif mode == "child fails":
    def fail(data, requests):
        raise MemoryError
    sigdigest._pass_answers = fail
pdf = open(path, "rb").read()
options = VerifyOptions(trust_anchors=[open(p, "rb").read() for p in roots], fork_helper=True)
reports = []
for doc in (pdf, pdf[:1000] + bytes([pdf[1000] ^ 1]) + pdf[1001:]):
    document = sigdigest.ForkedDocumentPass.start(doc)
    assert document is not None
    report = verify(doc, replace(options, document_digests_later=document))
    assert forkshare.last_run == "helped", forkshare.last_run
    seals = report.to_dict()["seals"]
    reports.append([[s["verdict"], s["checks"]["integrity"]["reasons"][0]["code"]] for s in seals] + [report.document])
print(json.dumps(reports))
"""


@pytest.mark.parametrize("mode", ["as is", "nothing asked", "child fails"])
def test_verify_with_a_forked_pass(sealed, mode: str) -> None:  # type: ignore[no-untyped-def]
    pdf, paths = sealed
    res = run_python(_VERIFY, mode, *paths, timeout=300)
    assert res.returncode == 0, res.stderr
    intact, tampered = json.loads(res.stdout)
    assert intact[:3] == [["valid", "BYTE_RANGE_COVERS_REVISION"]] * 2 + [["valid", "BYTE_RANGE_COVERS_FILE"]]
    assert intact[3]["sm3"] == sm3(pdf).hex() and intact[3]["sha256"] == hashlib.sha256(pdf).hexdigest()
    # Byte 1000 is in the original revision: every seal covers it and every one catches it.
    assert tampered[:3] == [["invalid", "BYTE_RANGE_DIGEST_MISMATCH"]] * 3
    assert tampered[3]["sha256"] != intact[3]["sha256"]


#: For each position: flip one bit there and verify with the document pass in a forked child (as `sealbridge
#: verify` does), printing each seal's integrity status and verdict (or the error code of a refused file).
_FLIPS = """
import json, sys
from dataclasses import replace
from formats.errors import SealBridgeError
from stamping.options import VerifyOptions
from stamping.pdf import sigdigest, verify

path, positions, *roots = sys.argv[1:]
pdf = open(path, "rb").read()
options = VerifyOptions(trust_anchors=[open(p, "rb").read() for p in roots], fork_helper=True)
out = {}
for pos in json.loads(positions):
    tampered = bytearray(pdf)
    tampered[pos] ^= 0x01
    doc = bytes(tampered)
    assert sigdigest.ForkedDocumentPass.can_fork()
    try:
        report = verify(doc, replace(options, document_digests_later=sigdigest.ForkedDocumentPass.start(doc)))
    except SealBridgeError as err:
        out[pos] = err.code
        continue
    out[pos] = [[s.checks["integrity"].status, s.checks["integrity"].code, s.verdict] for s in report.seals]
print(json.dumps(out))
"""


def test_a_byte_flipped_at_any_range_edge_is_caught_by_the_forked_pass(sealed) -> None:  # type: ignore[no-untyped-def]
    """The child hashes each range it is asked for from a state it kept and the bytes after it: an edge off
    by one byte would leave a byte unchecked. So the first and last byte of each range of each
    seal (and one inside each revision) is flipped in turn: exactly the seals that cover it fail."""
    pdf, paths = sealed
    ranges = byte_ranges(pdf)
    positions = edge_positions(ranges)
    res = run_python(_FLIPS, paths[0], json.dumps(positions), *paths[1:], timeout=600)
    assert res.returncode == 0, res.stderr
    results = json.loads(res.stdout)
    untouched_ok = 0
    for pos in positions:
        got = results[str(pos)]
        if isinstance(got, str):  # the file refused whole: only where every seal covers the byte
            assert got == "DOC_MALFORMED" and all(covers(br, pos) for br in ranges), (pos, got)
            continue
        assert len(got) == len(ranges), pos
        for br, (status, code, verdict) in zip(ranges, got, strict=True):
            if covers(br, pos):
                assert (status, verdict) == ("failed", "invalid"), (pos, br, code)
            elif status == "ok":
                untouched_ok += 1
            else:  # a later revision's structure broken: pyHanko says so; this seal's own digest matched
                assert code == "SIGNATURE_UNREADABLE", (pos, br, code)
    assert untouched_ok >= 5  # most flips leave the earlier seals intact
