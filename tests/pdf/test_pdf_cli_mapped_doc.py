"""`sealbridge verify` of a large PDF takes the file's own pages, mapped, as the bytes it verifies, while a
read lease keeps the file as it is (agent.cli.mappeddoc). Checked in real processes: the object is a
`bytes` equal to the file (a size of whole pages or not), closed by a NUL as CPython's are, over a private
read-only mapping of the file, and hashes as the file does; while it is held nobody can open the file for
writing, and once the process ends they can; a file open for writing, or a lease-break time too short, and
the document is not mapped; a document let go of is zeroes and frees the file. (The CLI's reports from a
mapped document and from a shared read: tests/pdf/test_pdf_cli_shared_read.py.)"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agent.cli.mappeddoc import layout_known
from agent.cli.verify_early import SHARED_FROM
from tests.support.fresh_python import run_python_ok, start_python
from tests.support.pdf_maker import PageSpec, make_pdf

PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf([PageSpec(lines=[(72, 780, "Contract")])], filler_bytes=SHARED_FROM + (1 << 20))


def _file(folder: Path, data: bytes, whole_pages: bool) -> Path:
    if whole_pages:
        data += b"\n" * (-len(data) % PAGE)  # after %%EOF: still the same PDF
    elif len(data) % PAGE == 0:
        data += b"\n"
    path = folder / "doc.pdf"
    path.write_bytes(data)
    return path


#: Maps the file, checks the object, hashes it in a forked pass, then says "ready" and holds the document
#: until it reads a line.
_MAPPED = """
import ctypes, hashlib, os, sys
from agent.cli.mappeddoc import MappedDocument
from formats.gm import sm3
from stamping.pdf.sigdigest import ForkedDocumentPass

path = sys.argv[1]
expected = open(path, "rb").read()
fd = os.open(path, os.O_RDONLY)
doc = MappedDocument.open(fd, len(expected))
os.close(fd)  # the lease is on a descriptor of its own (on overlayfs the mapping holds another file)
assert doc is not None and doc.read_by == "mapped"
assert os.path.samestat(os.fstat(doc._held), os.stat(path)) and doc.unchanged()
data = doc.take(timeout=0)
assert type(data) is bytes and len(data) == len(expected) and data == expected
assert bytes(data) is data and data[-20:] == expected[-20:] and hash(data) == hash(expected)
address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
assert address % os.sysconf("SC_PAGE_SIZE") == 0
assert ctypes.string_at(address + len(data), 1) == b"\\0"
ino = os.stat(path).st_ino
mapped = []
for line in open("/proc/self/maps"):
    span, perms, _, _, inode = line.split()[:5]
    low, high = (int(v, 16) for v in span.split("-"))
    if low <= address < high:
        mapped.append((perms, int(inode)))
assert mapped == [("r--p", ino)], mapped
document_pass = ForkedDocumentPass.start(data, fill=doc.fill)
assert document_pass() == (sm3(expected).hex(), hashlib.sha256(expected).hexdigest())
print("ready", flush=True)
sys.stdin.readline()  # meanwhile a writer tried to open the file
assert not doc.unchanged()  # the lease is being broken: the file may change
print("ok")
"""


def _lease_holders(path: Path) -> list[int]:
    """The processes holding a lease on the file (from /proc/locks)."""
    info = os.stat(path)
    ident = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "LEASE" in fields and ident in fields:
            holders.append(int(fields[fields.index(ident) - 1]))
    return holders


def _open_for_writing(path: Path) -> int | None:
    """An attempt to open the file for writing that does not wait: its descriptor, or None if refused."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except BlockingIOError as exc:
        assert exc.errno == errno.EWOULDBLOCK
        return None


def test_this_python_lays_out_bytes_as_mapped_here() -> None:
    # Otherwise every document would be read, and the tests below would check nothing.
    assert layout_known()


@pytest.mark.parametrize("whole_pages", [False, True], ids=["size within a page", "whole pages"])
def test_a_mapped_document_is_the_files_bytes_and_the_file_is_held(
    pdf, tmp_path: Path, whole_pages: bool
) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path, pdf, whole_pages)
    proc = start_python(_MAPPED, str(path))
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        assert _lease_holders(path) == [proc.pid]
        assert _open_for_writing(path) is None  # a writer waits while the document is held
        out, err = proc.communicate("\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and out.strip() == "ok", err
    assert _lease_holders(path) == []
    fd = _open_for_writing(path)
    assert fd is not None
    os.close(fd)


#: A file open for writing, one that others may write (O_RDONLY|O_TRUNC truncates without breaking a read
#: lease) or that is someone else's, a lease-break time the verification could outlast, or a file whose size
#: is no longer the one found before the lease: not mapped (and no lease is left behind).
_NOT_MAPPED = """
import os, signal, sys
from agent.cli import mappeddoc

path, why = sys.argv[1], sys.argv[2]
size = os.path.getsize(path)
if why == "open for writing":
    writer = os.open(path, os.O_WRONLY)
elif why == "size changed":
    size -= 1
elif why == "others may write":
    os.chmod(path, 0o646)
elif why == "group may write":
    os.chmod(path, 0o664)
elif why == "someone else's":
    os.chown(path, 65534, 65534)
else:
    short = path + ".lease-break-time"
    open(short, "w").write(str(mappeddoc.LEASE_BREAK_AT_LEAST - 1) + "\\n")
    mappeddoc._LEASE_BREAK_TIME = short
fd = os.open(path, os.O_RDONLY)
descriptors = sorted(os.listdir("/proc/self/fd"))
assert mappeddoc.MappedDocument.open(fd, size) is None
assert mappeddoc.KEPT == [] and sorted(os.listdir("/proc/self/fd")) == descriptors  # none left open
os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # no lease held
assert signal.getsignal(signal.SIGIO) == signal.SIG_DFL  # put back where no lease was taken
print("ok")
"""


@pytest.mark.parametrize(
    "why",
    [
        "open for writing",
        "others may write",
        "group may write",
        "someone else's",
        "lease-break time too short",
        "size changed",
    ],
)
def test_a_document_that_cannot_be_held_is_not_mapped(pdf, tmp_path: Path, why: str) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_NOT_MAPPED, str(_file(tmp_path, pdf, False)), why)


#: Let go of (the pass was for another file): the object stays, as zeroes, and the file is free.
_ABANDONED = """
import os, sys
from agent.cli.mappeddoc import MappedDocument

path = sys.argv[1]
size = os.path.getsize(path)
fd = os.open(path, os.O_RDONLY)
doc = MappedDocument.open(fd, size)
os.close(fd)
try:
    os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    raise AssertionError("opened for writing while held")
except BlockingIOError:
    pass
doc.abandon()
assert doc.data == bytes(size)
os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
print("ok")
"""


def test_a_document_let_go_of_frees_the_file(pdf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_python_ok(_ABANDONED, str(_file(tmp_path, pdf, False)))
