"""A forked helper checks some of a PDF's signatures (stamping/pdf/forkshare.py): the results are the same
as in one process, a byte flipped in any signed range is still caught for every seal covering it, and a
helper that cannot start, fails or sends back something broken only costs time."""

from __future__ import annotations

import json
import os
import select
import threading
from pathlib import Path

import pytest

from stamping.pdf import forkshare
from stamping.placement import At
from tests.support.fresh_python import run_python, run_python_ok
from tests.support.pdf_flows import stamp_pdf
from tests.support.pdf_maker import contract_pdf


def _in_fresh_process(code: str) -> str:
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_the_helper_does_its_share_and_the_results_are_complete() -> None:
    out = _in_fresh_process(
        "import os\n"
        "from stamping.pdf import forkshare\n"
        "parent = os.getpid()\n"
        "got = forkshare.share_with_helper(lambda i: (i * i, os.getpid() == parent), [0, 2], [1, 3])\n"
        "assert got == {0: (0, True), 1: (1, False), 2: (4, True), 3: (9, False)}, got\n"
        "print(forkshare.last_run)\n"
    )
    assert out == "helped"


@pytest.mark.parametrize(
    "helper_result",
    [
        "raise RuntimeError('the helper fails')",
        "return lambda: None  # cannot be pickled",
        "os._exit(0)  # gone without a word",
    ],
)
def test_a_helper_that_fails_leaves_its_share_to_this_process(helper_result: str) -> None:
    out = _in_fresh_process(
        "import os\n"
        "from stamping.pdf import forkshare\n"
        "parent = os.getpid()\n"
        "def task(i):\n"
        "    if os.getpid() != parent:\n"
        f"        {helper_result}\n"
        "    return i + 100\n"
        "got = forkshare.share_with_helper(task, [0], [1, 2])\n"
        "assert got == {0: 100, 1: 101, 2: 102}, got\n"
        "print(forkshare.last_run)\n"
    )
    assert out == "helper failed"


def test_no_helper_is_forked_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        got = forkshare.share_with_helper(lambda i: (i, os.getpid()), [0], [1])
    finally:
        stop.set()
        other.join()
    assert got == {0: (0, os.getpid()), 1: (1, os.getpid())}
    assert forkshare.last_run == "alone"


#: Before threading is loaded (a large PDF's `sealbridge verify` forks its hashing child then), a thread
#: started through _thread keeps a fork from happening too.
_NO_THREADING = """
import _thread, sys
from stamping.pdf import forkshare

assert "threading" not in sys.modules
assert forkshare.can_fork()
started, stop = _thread.allocate_lock(), _thread.allocate_lock()
started.acquire()
stop.acquire()

def other():
    started.release()
    stop.acquire()

_thread.start_new_thread(other, ())
started.acquire()
assert not forkshare.can_fork()
assert "threading" not in sys.modules
print("ok")
"""


def test_no_fork_while_a_thread_runs_before_threading_is_loaded() -> None:
    run_python_ok(_NO_THREADING)


@pytest.fixture(scope="module")
def sealed(sm2_party, ecdsa_party, rsa_party) -> tuple[bytes, list]:  # type: ignore[no-untyped-def]
    pdf = contract_pdf(2)
    for party, place in ((sm2_party, At(1, 40, 40)), (ecdsa_party, At(1, 90, 40)), (rsa_party, At(2, 40, 90)),
                         (sm2_party, At(2, 90, 90))):  # fmt: skip
        pdf = stamp_pdf(pdf, party, [place])
    return pdf, [sm2_party, ecdsa_party, rsa_party]


#: Run in a fresh process (the test process may run other threads, which rule the helper out): verify the
#: PDF alone and helped, flipping a byte after each seal's /Contents in turn.
_CHECK = """
import json, sys
from dataclasses import replace
from stamping.options import VerifyOptions
from stamping.pdf import forkshare, verify

pdf = open(sys.argv[1], "rb").read()
alone_options = VerifyOptions(trust_anchors=[open(p, "rb").read() for p in sys.argv[2:]])
helped_options = replace(alone_options, fork_helper=True)


def summary(report):
    seals = report.to_dict()["seals"]
    for seal in seals:
        seal.pop("best_signature_time", None)
    return seals


alone = verify(pdf, alone_options)
assert forkshare.last_run == "alone"
helped = verify(pdf, helped_options)
assert forkshare.last_run == "helped"
assert summary(helped) == summary(alone)
assert [s.verdict for s in helped.seals] == ["valid"] * len(helped.seals)
ranges = [s.covers["byte_ranges"][0] + s.covers["byte_ranges"][1] for s in helped.seals]
flips = []
for a, b, c, d in ranges:
    pos = c + d // 2  # in this seal's own revision, after its /Contents
    tampered = bytearray(pdf)
    tampered[pos] ^= 0x01
    report = verify(bytes(tampered), helped_options)
    assert forkshare.last_run == "helped"
    assert summary(report) == summary(verify(bytes(tampered), alone_options))
    covered = [a2 <= pos < a2 + b2 or c2 <= pos < c2 + d2 for a2, b2, c2, d2 in ranges]
    flips.append(([s.checks["integrity"].status for s in report.seals], covered))
print(json.dumps(flips))
"""


def _written(sealed, folder: Path) -> tuple[Path, list[Path]]:  # type: ignore[no-untyped-def]
    """The sealed PDF and its parties' roots as files in `folder`."""
    pdf, parties = sealed
    doc = folder / "doc.pdf"
    doc.write_bytes(pdf)
    roots = []
    for i, party in enumerate(parties):
        roots.append(folder / f"root{i}.der")
        roots[-1].write_bytes(party.root)
    return doc, roots


def test_helped_verifications_report_what_one_process_reports(sealed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc, roots = _written(sealed, tmp_path)
    res = run_python(_CHECK, str(doc), *map(str, roots), timeout=300)
    assert res.returncode == 0, res.stderr
    flips = json.loads(res.stdout)
    assert len(flips) == 4
    for k, (statuses, covered) in enumerate(flips):
        # the flip is in seal k's revision: seal k and every later seal cover it, no earlier one does
        assert covered == [j >= k for j in range(4)], (k, covered)
        assert statuses == ["failed" if hit else "ok" for hit in covered], (k, statuses)


def test_a_child_holds_none_of_the_standard_streams() -> None:
    """A child still hashing when this process ends must not keep its output pipe open: `sealbridge verify
    ... | jq` sees the end of the output when the command ends."""
    run_python_ok(
        "import os\n"
        "from stamping.pdf import forkshare\n"
        "pid, read_end = forkshare.start_child(lambda: [os.readlink(f'/proc/self/fd/{fd}') for fd in (0, 1, 2)])\n"
        "assert forkshare.child_result(pid, read_end) == [os.devnull] * 3\n"
        "assert os.readlink('/proc/self/fd/1') != os.devnull  # this process keeps its own\n"
        "print('ok')\n"
    )


def test_where_no_child_can_be_started_this_process_does_the_work() -> None:
    """fork() fails under the system's process or memory limits (EAGAIN, ENOMEM): no error, no leaked pipe,
    the same results from this process alone."""
    run_python_ok(
        "import errno, hashlib, os\n"
        "from formats.gm import sm3\n"
        "from stamping.pdf import forkshare, sigdigest\n"
        "def no_fork():\n"
        "    raise BlockingIOError(errno.EAGAIN, 'Resource temporarily unavailable')\n"
        "os.fork = no_fork\n"
        "fds = len(os.listdir('/proc/self/fd'))\n"
        "assert forkshare.start_child(lambda: 1) is None\n"
        "assert len(os.listdir('/proc/self/fd')) == fds  # both ends of the pipe closed\n"
        "got = forkshare.share_with_helper(lambda i: i * 10, [0], [1, 2])\n"
        "assert got == {0: 0, 1: 10, 2: 20} and forkshare.last_run == 'helper failed', got\n"
        "data = b'%PDF-1.7 ' * 100000\n"
        "document = sigdigest.start_pass(data)\n"
        "assert isinstance(document, sigdigest.DocumentPass), document\n"
        "assert document() == (sm3(data).hex(), hashlib.sha256(data).hexdigest())\n"
        "print('ok')\n"
    )


def test_a_child_that_takes_too_long_is_stopped() -> None:
    """The wait for a child has a limit: past it the child is killed and reaped, and the caller hashes
    itself. (The child here blocks on a pipe nobody writes to.)"""
    run_python_ok(
        "import os\n"
        "from stamping.pdf import forkshare\n"
        "never, _keep = os.pipe()\n"
        "pid, read_end = forkshare.start_child(lambda: os.read(never, 1))\n"
        "assert forkshare.child_result(pid, read_end, timeout=0.2) is None\n"
        "try:\n"
        "    os.waitpid(pid, os.WNOHANG)\n"
        "except ChildProcessError:\n"
        "    print('ok')  # already reaped: killed, not left running or a zombie\n"
    )


def test_a_child_ends_with_the_process_that_forked_it() -> None:
    """However the parent ends (SIGKILL included), its child does not go on working for nobody."""
    res = run_python(
        "import os, signal, sys\n"
        "from stamping.pdf import forkshare\n"
        "never, _keep = os.pipe()\n"
        "pid, _ = forkshare.start_child(lambda: os.read(never, 1))\n"
        "print(pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert res.returncode == -9, res.stderr
    child = int(res.stdout.split()[0])
    try:
        handle = os.pidfd_open(child)
    except ProcessLookupError:
        return  # gone already
    try:
        readable, _, _ = select.select([handle], [], [], 30)  # readable once the process has ended
        assert readable, f"child {child} still running after its parent was killed"
    finally:
        os.close(handle)


def test_sealbridge_verify_where_no_child_can_be_started(sealed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc, roots = _written(sealed, tmp_path)
    trust = [arg for root in roots for arg in ("--trust", str(root))]
    res = run_python(
        "import errno, os, sys\n"
        "def no_fork():\n"
        "    raise BlockingIOError(errno.EAGAIN, 'Resource temporarily unavailable')\n"
        "os.fork = no_fork\n"
        "from sealbridge.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n",
        "verify",
        str(doc),
        "--json",
        *trust,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    report = json.loads(res.stdout)
    assert [s["verdict"] for s in report["seals"]] == ["valid"] * 4


def test_where_children_are_reaped_by_the_system_their_results_still_count() -> None:
    """A process started with SIGCHLD ignored (inherited across exec) has its children reaped by the kernel:
    waitpid() finds none. A result that arrived whole still counts; no error."""
    run_python_ok(
        "import hashlib, signal\n"
        "from formats.gm import sm3\n"
        "from stamping.pdf import forkshare, sigdigest\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "got = forkshare.share_with_helper(lambda i: i * 10, [0], [1, 2])\n"
        "assert got == {0: 0, 1: 10, 2: 20} and forkshare.last_run == 'helped', (got, forkshare.last_run)\n"
        "data = b'%PDF-1.7 ' * 100000\n"
        "document = sigdigest.ForkedDocumentPass.start(data)\n"
        "assert document() == (sm3(data).hex(), hashlib.sha256(data).hexdigest())\n"
        "print('ok')\n"
    )
