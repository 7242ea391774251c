"""`sealbridge verify` of a large PDF that cannot be mapped (agent.cli.mappeddoc) has its forked child read
the file into memory it shares with the verifying process, then hash it (agent.cli.sharedread), forked at
the program's start when the raw arguments name one such file (agent.cli.verify_early). Checked in real
processes: the bytes are the file's, head and tail included; a file that is not whole as read is read
again by the process itself; a pass begun for another file, or for a path that names another file by now,
is ended; and the reports are those of the verifier in one process, the document mapped or read, with a
byte flipped in each revision caught by every seal that covers it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from agent.cli.verify_early import SHARED_FROM, _the_one_file
from formats.gm import sm3
from stamping.pdf import verify
from stamping.placement import At
from tests.support.byteranges import byte_ranges
from tests.support.fresh_python import run_python, run_python_ok
from tests.support.pdf_flows import root_files, stamp_pdf, trusting
from tests.support.pdf_maker import PageSpec, make_pdf


@pytest.fixture(scope="module")
def large(sm2_party, ecdsa_party, tmp_path_factory) -> tuple[bytes, Path, list[str], tuple]:  # type: ignore[no-untyped-def]
    """A PDF past SHARED_FROM with two seals (SM2, then ECDSA), in a file; the roots' paths; the parties."""
    pdf = make_pdf([PageSpec(lines=[(72, 780, "Contract")])], filler_bytes=SHARED_FROM + (1 << 20))
    for party, place in ((sm2_party, At(1, 40, 40)), (ecdsa_party, At(1, 90, 40))):
        pdf = stamp_pdf(pdf, party, [place])
    folder = tmp_path_factory.mktemp("shared")
    (folder / "doc.pdf").write_bytes(pdf)
    return pdf, folder / "doc.pdf", root_files(folder, sm2_party, ecdsa_party), (sm2_party, ecdsa_party)


#: The child fills the buffer; this process sees the file's bytes, head and tail (the private pages) too;
#: the shared pages are one shared mapping; the pass's digests are the file's.
_FILLED = """
import hashlib, os, sys
from agent.cli.sharedread import SharedRead
from formats.gm import sm3
from stamping.pdf.sigdigest import ForkedDocumentPass

path = sys.argv[1]
expected = open(path, "rb").read()
fd = os.open(path, os.O_RDONLY)
shared = SharedRead.prepare(fd, len(expected))
assert shared is not None
document_pass = ForkedDocumentPass.start(shared.data, fill=shared.fill)
shared.forked()
os.close(fd)
data = shared.take(timeout=60)
assert data is shared.data and data == expected
assert document_pass() == (sm3(expected).hex(), hashlib.sha256(expected).hexdigest())
import ctypes
address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
shared_maps = []
for line in open("/proc/self/maps"):
    span, perms = line.split()[:2]
    low, high = (int(v, 16) for v in span.split("-"))
    if low < address + len(data) and high > address and perms[3] == "s":
        shared_maps.append((low, high))
assert len(shared_maps) == 1, shared_maps
low, high = shared_maps[0]
assert address < low < address + 4096 and address + len(data) - 4096 < high <= address + len(data)
print("ok")
"""


def test_the_child_reads_the_file_into_the_bytes_this_process_keeps(large) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_FILLED, str(large[1]))


#: The size given is not the file's (it changed between the look and the read): nothing is taken, and the
#: pass, cancelled, answers nothing; its child is gone.
_NOT_WHOLE = """
import os, sys
from agent.cli.sharedread import SharedRead
from stamping.pdf.sigdigest import ForkedDocumentPass

path, change = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path) + change
fd = os.open(path, os.O_RDONLY)
shared = SharedRead.prepare(fd, size)
document_pass = ForkedDocumentPass.start(shared.data, fill=shared.fill)
shared.forked()
os.close(fd)
assert shared.take(timeout=60) is None
document_pass.cancel()
assert document_pass.known("sm3", ((0, 10),)) is None
try:
    os.waitpid(-1, os.WNOHANG)
    raise AssertionError("a child is left")
except ChildProcessError:
    pass
print("ok")
"""


@pytest.mark.parametrize("change", [+4096, -4096], ids=["shorter than said", "longer than said"])
def test_a_file_not_whole_as_read_is_not_taken(large, change: int) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_NOT_WHOLE, str(large[1]), str(change))


#: verify_early: a pass begun for one file is claimed for that path only, and only while the path still
#: names the file that was opened; anything else is cancelled and the command reads the file itself.
_CLAIMS = """
import os, shutil, sys
from agent.cli import verify_early

path, other, read_by = sys.argv[1:4]
writers = []


def hold(p):  # a file open for writing here gets no lease: the child reads it into shared memory
    if read_by == "by the child":
        writers.append(os.open(p, os.O_WRONLY))


hold(path)
hold(other)
verify_early.start(["verify", "--trust", "x.der", path, "--json"])
assert verify_early._started is not None and verify_early._started[2].read_by == read_by
assert verify_early.claim(other) is None  # another file: cancelled
assert verify_early._started is None and verify_early.claim(path) is None

verify_early.start(["verify", path])
shutil.copy(path, path + ".new")
os.replace(path + ".new", path)  # the same name, another file
hold(path)
assert verify_early.claim(path) is None

verify_early.start(["verify", path])
claimed = verify_early.claim(path)
assert claimed is not None
shared, document_pass = claimed
assert shared.read_by == read_by
assert shared.take(timeout=60) == open(path, "rb").read()
document_pass()
for args in (["verify", path, path], ["verify", "--help", path], ["stamp", path], ["verify", "--tr", "x", path]):
    verify_early.start(args)
    assert verify_early._started is None, args
print("ok")
"""


@pytest.mark.parametrize("read_by", ["mapped", "by the child"])
def test_a_pass_begun_early_is_claimed_for_its_own_file_only(large, tmp_path: Path, read_by: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "doc.pdf"
    path.write_bytes(large[0])
    other = tmp_path / "other.pdf"
    other.write_bytes(large[0])
    run_python_ok(_CLAIMS, str(path), str(other), read_by)


def test_what_is_taken_for_the_one_file() -> None:
    assert _the_one_file(["a.pdf"]) == "a.pdf"
    assert _the_one_file(["--trust", "r.der", "a.pdf", "--json"]) == "a.pdf"
    assert _the_one_file(["--trust=r.der", "--cert", "c.der", "--lang", "zh", "a.pdf"]) == "a.pdf"
    assert (
        _the_one_file(["--jobs", "2", "--platform", "https://p", "--evidence", "e.pdf", "a.pdf"]) == "a.pdf"
    )
    assert _the_one_file(["--", "-odd-name.pdf"]) == "-odd-name.pdf"
    assert _the_one_file(["a.pdf", "b.pdf"]) is None  # several: the batch
    assert _the_one_file(["--trust", "r.der"]) is None
    assert _the_one_file(["-h", "a.pdf"]) is None
    assert _the_one_file(["--tru", "r.der", "a.pdf"]) is None  # an abbreviation argparse would take


#: The whole program (main() without arguments, as the console script runs it: the pass forked at its
#: start), or main() given the arguments (the pass forked by the command); who read the document, printed
#: at exit.
_CLI = """
import atexit, sys
from agent.cli import verify as cli_verify
from sealbridge.cli import main

whole, *args = sys.argv[1:]
atexit.register(lambda: print(cli_verify.last_read, file=sys.stderr))
if whole == "whole":
    sys.argv = ["sealbridge", *args]
    sys.exit(main())
sys.exit(main(args))
"""


@pytest.mark.parametrize(
    ("whole", "read_by"),
    [("whole", "mapped"), ("given", "mapped"), ("whole", "by the child"), ("given", "by the child")],
)
def test_the_cli_reports_what_the_verifier_reports(large, tmp_path: Path, whole: str, read_by: str) -> None:  # type: ignore[no-untyped-def]
    """The document mapped (agent.cli.mappeddoc), or, while this process has the file open for writing
    (no lease then), read by the child."""
    pdf, _, roots, parties = large
    ranges = byte_ranges(pdf)
    flips = {"intact": None, "first revision": ranges[0][1] // 2, "second revision": ranges[1][2] + 10}
    for name, pos in flips.items():
        data = bytearray(pdf)
        if pos is not None:
            data[pos] ^= 0x01
        doc = tmp_path / f"{name}.pdf"
        doc.write_bytes(data)
        args = ["verify", "--trust", roots[0], str(doc), "--json", "--trust", roots[1]]
        writer = os.open(doc, os.O_WRONLY) if read_by == "by the child" else None
        try:
            res = run_python(_CLI, whole, *args, timeout=300)
        finally:
            if writer is not None:
                os.close(writer)
        assert res.stderr.strip().splitlines()[-1] == read_by, (name, res.stderr)
        report = json.loads(res.stdout)
        expected = verify(bytes(data), trusting(*parties)).to_dict()
        assert [s["verdict"] for s in report["seals"]] == [s["verdict"] for s in expected["seals"]], name
        assert report["document"]["sm3"] == sm3(bytes(data)).hex(), name
        assert report["document"]["sha256"] == hashlib.sha256(bytes(data)).hexdigest(), name
        integrity = [s["checks"]["integrity"]["status"] for s in report["seals"]]
        if pos is None:
            assert integrity == ["ok", "ok"] and res.returncode == 0, name
        elif name == "first revision":
            assert integrity == ["failed", "failed"] and res.returncode == 1, name
        else:
            assert integrity == ["ok", "failed"] and res.returncode == 1, name


#: A writer comes while the mapped document is verified (its non-blocking open is refused, and the lease
#: is being broken from then on): the report is that of a fresh read of the file.
_WRITER_MEANWHILE = """
import os, sys
from agent.cli import verify as cli_verify, verify_early
from sealbridge.cli import main

path, *args = sys.argv[1:]
verify_early.start(args)  # as main() does for the whole program
assert verify_early._started[2].read_by == "mapped"
try:
    os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    raise AssertionError("opened for writing while mapped")
except BlockingIOError:
    pass
code = main(args)
print(cli_verify.last_read, file=sys.stderr)
sys.exit(code)
"""


def test_a_writer_while_the_mapped_file_is_verified_has_it_read_again(large) -> None:  # type: ignore[no-untyped-def]
    pdf, path, roots, parties = large
    res = run_python(
        _WRITER_MEANWHILE, str(path), "verify", str(path), "--json", "--trust", roots[0], "--trust", roots[1]
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "read again"
    report = json.loads(res.stdout)
    assert [s["verdict"] for s in report["seals"]] == ["valid", "valid"]
    assert report["document"]["sm3"] == sm3(pdf).hex()


def test_a_small_pdf_is_read_by_the_process_itself(tmp_path: Path, sm2_party) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "small.pdf"
    doc.write_bytes(stamp_pdf(make_pdf([PageSpec(lines=[(72, 780, "x")])]), sm2_party, [At(1, 40, 40)]))
    root = tmp_path / "root.der"
    root.write_bytes(sm2_party.root)
    res = run_python(_CLI, "whole", "verify", str(doc), "--json", "--trust", str(root))
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "here"
    assert os.path.getsize(doc) < SHARED_FROM
