"""The document pass in a forked child (stamping.pdf.sigdigest.ForkedDocumentPass), as `sealbridge verify`
runs it: the same digests as the pass on a thread, each signature's digest from the child where it found the
/ByteRange, from this process where it did not, and the same report either way; a byte flipped in a signed
range is still caught for every seal that covers it."""

from __future__ import annotations

import hashlib
import json

import pytest

from formats.gm import sm3
from stamping.pdf import sigdigest
from stamping.placement import At
from tests.support.byteranges import byte_ranges, covers, edge_positions
from tests.support.fresh_python import run_python, run_python_ok
from tests.support.pdf_flows import stamp_pdf
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
    roots = []
    for i, party in enumerate((sm2_party, ecdsa_party)):
        roots.append(folder / f"root{i}.der")
        roots[-1].write_bytes(party.root)
    return pdf, [str(folder / "doc.pdf"), *map(str, roots)]


def test_hints_are_the_files_byte_ranges(sealed) -> None:  # type: ignore[no-untyped-def]
    pdf, _ = sealed
    hints = sigdigest.hinted_byte_ranges(pdf)
    assert len(hints) == 3
    for (a, b), (c, d) in hints:
        assert a == 0 and pdf[b : b + 1] == b"<" and pdf[c - 1 : c] == b">" and c + d <= len(pdf)


def test_hints_leave_out_what_cannot_be_a_range() -> None:
    doc = (
        b"%PDF-1.7\n/ByteRange [0 10 20 5] /ByteRange [0 10 20 5]\n"  # the same twice: once
        b"/ByteRange [0 10 20 999999]\n"  # past the end
        b"/ByteRange [0 10 20]\n"  # an odd count
        b"/ByteRange[0 3\n4 1]\n"  # no space before '[', a line break inside: a range
        b"/ByteRange /Other\n"
        b"/ByteRange [0 1 2 1 4 1]\n"  # three pairs: not the shape a signer writes
        b"/ByteRange [5 1 10 2]\n"  # not from the start of the file
        b"/ByteRange [0 12 10 2]\n" + b"x" * 40  # backwards: the second range starts inside the first
    )
    assert sigdigest.hinted_byte_ranges(doc) == [((0, 10), (20, 5)), ((0, 3), (4, 1))]


def test_what_hints_may_cost_is_bounded() -> None:
    """A hint is only text: a file may hold any number anywhere. At most 16 are taken, and no more bytes
    hashed a second time (each hint's second range) than the file holds."""
    many = b"".join(b"/ByteRange [0 %d 2000 1] " % n for n in range(1, 100)) + b"x" * 2000
    assert len(sigdigest.hinted_byte_ranges(many)) == 16
    twice = b"/ByteRange [0 1 2 60] /ByteRange [0 1 3 60] /ByteRange [0 1 4 10]".ljust(100, b" ")
    assert sigdigest.hinted_byte_ranges(twice) == [((0, 1), (2, 60)), ((0, 1), (4, 10))]
    # The scan itself stops after 256 "/ByteRange" texts, usable or not: a hint past them is not looked at.
    late = b"/ByteRange x " * 300 + b"/ByteRange [0 1 2 1]" + b" " * 10
    assert sigdigest.hinted_byte_ranges(late) == []
    assert sigdigest.hinted_byte_ranges(late[13 * 100 :]) == [((0, 1), (2, 1))]


#: A run of digits that an ambiguous pattern (numbers with optional space between them) splits in
#: exponentially many ways before it fails: minutes for 30 digits. In a fresh process, so that a regression
#: fails at the time limit instead of hanging the suite.
_DIGITS = """
from stamping.pdf.sigdigest import hinted_byte_ranges
doc = b"%PDF-1.7\\n" + (b"/ByteRange [" + b"7" * 60 + b" x ") * 200 + b"/ByteRange [0 1 2 1]"
assert hinted_byte_ranges(doc) == [((0, 1), (2, 1))]
print("ok")
"""


def test_a_long_run_of_digits_is_no_work() -> None:
    run_python_ok(_DIGITS, timeout=60)


#: In a fresh process (the test process may run threads: no fork there).
_SAME_AS_THE_THREAD = """
import hashlib, sys
from stamping.pdf.sigdigest import DocumentPass, ForkedDocumentPass, hinted_byte_ranges

pdf = open(sys.argv[1], "rb").read()
assert ForkedDocumentPass.can_fork()
forked, threaded = ForkedDocumentPass.start(pdf), DocumentPass(pdf)
assert forked is not None
assert forked() == threaded()
hints = hinted_byte_ranges(pdf)
assert len(hints) == 3
for pairs in hints:
    for alg in ("sm3", "sha256", "SHA256"):
        assert forked.known(alg, pairs) == threaded.digest(alg.lower(), pairs), (alg, pairs)
assert forked.known("sha512", hints[0]) is None  # not what the child computes
assert forked.known("sha256", ((0, 10), (20, 10))) is None  # not a range of the file
assert forked.ready()
print("ok")
"""


def test_the_child_answers_what_the_thread_pass_answers(sealed) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_SAME_AS_THE_THREAD, sealed[1][0])


#: verify() with a forked pass whose child found no range (or failed): the digests are made here instead.
_VERIFY = """
import json, sys
from dataclasses import replace
from stamping.options import VerifyOptions
from stamping.pdf import forkshare, sigdigest, verify

mode, path, *roots = sys.argv[1:]
if mode == "no hints":
    sigdigest.hinted_byte_ranges = lambda data: []
elif mode == "child fails":
    def fail(data):
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


@pytest.mark.parametrize("mode", ["as is", "no hints", "child fails"])
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
    """The child hashes each range from hints it found itself and branches its states at their edges: an
    edge off by one byte would leave a byte unchecked. So the first and last byte of each range of each
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
