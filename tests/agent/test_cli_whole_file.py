"""agent/cli/wholefile.py: a large document is read into bytes on huge pages while Linux gives them quickly,
then on small pages asked for at once, and the bytes are the file's, whatever its size and whatever it did
between the size check and the read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.cli import wholefile
from agent.cli.common import read_document
from agent.cli.wholefile import HUGE_FROM, read_whole
from formats.errors import SealBridgeError
from tests.support.fresh_python import run_python

_HUGE_PAGE = 2 << 20


@pytest.mark.parametrize("cold_ns", [10**12, -1], ids=["huge pages", "first huge page cold"])
@pytest.mark.parametrize(
    "size", [1, HUGE_FROM - 1, HUGE_FROM, HUGE_FROM + 4097, HUGE_FROM + 3 * _HUGE_PAGE + 12345]
)
def test_the_bytes_are_the_files(
    tmp_path: Path, size: int, cold_ns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wholefile, "COLD_HUGE_PAGE_NS", cold_ns)
    data = os.urandom(size)
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    got = read_whole(path, size)
    assert type(got) is bytes
    assert got == data and hash(got) == hash(data)  # nothing cached about the bytes before they were filled
    assert read_document(path) == data


def test_a_file_that_grew_or_shrank_since_its_size_was_taken_is_read_as_it_is(tmp_path: Path) -> None:
    data = os.urandom(HUGE_FROM + 1000)
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    assert read_whole(path, len(data) - 999) == data  # grew after the size was taken
    assert read_whole(path, len(data) + 999) == data  # shrank
    with pytest.raises(FileNotFoundError):
        read_whole(tmp_path / "gone.pdf", HUGE_FROM)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [5000, HUGE_FROM + 5000])
def test_a_path_replaced_by_a_pipe_after_its_size_was_taken_is_refused_unopened(tmp_path: Path, size: int):
    """Its size was taken from a regular file; by the read, the path names a pipe nobody writes to. The read
    refuses it at once (opening it would wait for a writer for ever)."""
    path = tmp_path / "doc.pdf"
    os.mkfifo(path)
    with pytest.raises(SealBridgeError) as refused:
        read_whole(path, size, most=size + 1)
    assert (refused.value.code, refused.value.detail) == ("BAD_REQUEST", f"{path} is not a regular file")


@pytest.mark.parametrize("size", [5000, HUGE_FROM + 5000])
def test_a_file_that_grew_is_read_no_further_than_asked(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    assert read_whole(path, size - 4000, most=size - 3000) == data[: size - 3000]  # grew after the size check
    assert read_whole(path, size, most=size + 1) == data  # as it was: all of it
    assert read_whole(path, size - 4000, most=size + 1) == data  # grew, within the bound: all of it
    assert read_whole(path, size + 4000, most=size + 1) == data  # shrank


def test_a_document_that_grew_past_the_limit_after_its_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.cli.common as common

    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(5000))
    monkeypatch.setattr(common, "MAX_DOCUMENT_BYTES", 1000)
    monkeypatch.setattr(common, "document_size", lambda _p: 500)  # its size when checked
    with pytest.raises(SealBridgeError) as err:
        read_document(path)
    assert err.value.code == "DOC_TOO_LARGE" and "grew past 1000 bytes" in str(err.value.detail)


#: In a fresh process (whose allocator hands out large blocks as fresh mappings, not memory another
#: test's buffers left behind): the mappings over the bytes read by read_whole and by a plain read, as
#: [start, end] relative to the bytes and whether advised for huge pages, and the header's mapping (where
#: the object's refcount and cached hash are written, by a forked child too: it must stay on small pages).
_MAPPINGS = """
import ctypes, json, sys
from pathlib import Path
from agent.cli import wholefile
from agent.cli.wholefile import read_whole

wholefile.COLD_HUGE_PAGE_NS = int(sys.argv[2])

def mappings(data):
    address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    header, found, current = id(data), [], None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(None, 1)[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(x, 16) for x in head.split("-"))
            current = (low, high)
        elif head == "VmFlags:" and current:
            low, high = current
            advised = "hg" in line.split()[1:]
            if low <= header < high:
                found.append(["header", advised])
            if low < address + len(data) and address < high:
                found.append([low - address, high - address, advised])
    return found

path = Path(sys.argv[1])
ours, plain = read_whole(path, path.stat().st_size), path.read_bytes()
assert ours == plain
print(json.dumps([mappings(ours), mappings(plain)]))
"""


def _mappings_after_reading(tmp_path: Path, size: int, cold_ns: int) -> tuple[list[list], list[list]]:
    """_MAPPINGS's answer for a random file of `size` bytes, huge pages slower than `cold_ns` being cold."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(os.urandom(size))
    res = run_python(_MAPPINGS, str(path), str(cold_ns))
    assert res.returncode == 0, res.stderr
    ours, plain = json.loads(res.stdout)
    return ours, plain


def _thp_mode() -> str | None:
    """The system's transparent huge page mode (`always`, `madvise`, `never`), None without THP."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return None
    return text[text.index("[") + 1 : text.index("]")] if "[" in text else None


@pytest.mark.skipif(_thp_mode() in (None, "never"), reason="no transparent huge pages to be given")
def test_a_large_document_is_read_into_memory_advised_for_huge_pages(tmp_path: Path) -> None:
    size = 16 << 20
    ours, plain = _mappings_after_reading(tmp_path, size, 10**12)  # none is cold
    assert ["header", False] in ours, ours  # the object's header: never on an advised page
    advised = [(low, high) for low, high, flag in (m for m in ours if m[0] != "header") if flag]
    # Inside the bytes only; seven whole huge pages lie inside 16 MiB wherever it starts.
    assert advised and all(0 <= low < high <= size for low, high in advised), ours
    assert sum(high - low for low, high in advised) >= 6 * _HUGE_PAGE, ours
    assert not any(m[-1] for m in plain), plain  # a plain read asks for nothing


@pytest.mark.skipif(_thp_mode() is None, reason="no transparent huge pages: nothing is ever advised for them")
def test_after_a_cold_huge_page_the_rest_is_on_small_pages(tmp_path: Path) -> None:
    ours, _ = _mappings_after_reading(tmp_path, 16 << 20, -1)  # every huge page is cold: only the first
    advised = [(low, high) for low, high, flag in (m for m in ours if m[0] != "header") if flag]
    assert len(advised) == 1 and advised[0][1] - advised[0][0] == _HUGE_PAGE, ours


class _Libc:
    """madvise as the test wants it to answer, each call recorded as (offset from the buffer, length, advice)."""

    def __init__(self, base: int, refuse_huge: bool = False) -> None:
        self.base, self.refuse_huge, self.calls = base, refuse_huge, []

    def madvise(self, start: object, length: object, advice: int) -> int:
        offset, size = start.value - self.base, length.value  # type: ignore[attr-defined]
        self.calls.append((offset, size, advice))
        return -1 if self.refuse_huge and advice == wholefile._MADV_HUGEPAGE else 0


@pytest.mark.parametrize(
    ("times_ms", "refuse_huge", "advised", "huge_pages"),
    [
        ([0.2] * 10, False, 7, 7),  # all quick: every whole huge page
        ([0.2, 0.3, 6.0, 0.2], False, 3, 3),  # the third is cold: it stays, the rest goes on small pages
        ([7.0], False, 1, 1),
        ([0.2, 0.003], False, 2, 1),  # the second was no huge page (THP off): it goes on small pages
        ([], True, 1, 0),  # THP refused: all on small pages
    ],
)
def test_huge_pages_while_they_come_quickly(
    monkeypatch: pytest.MonkeyPatch, times_ms: list[float], refuse_huge: bool, advised: int, huge_pages: int
) -> None:
    base = 1000 * _HUGE_PAGE + 4096 * 5 + 123  # not aligned: a small-page head, then whole huge pages
    size = 16 << 20
    touched: list[int] = []
    pending = iter(times_ms)

    def touch(address: int) -> int:
        touched.append(address)
        return int(next(pending) * 1e6)

    monkeypatch.setattr(wholefile, "_touch", touch)
    libc = _Libc(base, refuse_huge)
    wholefile._prepare(libc, base, size)
    first = 1001 * _HUGE_PAGE - base  # the first huge page boundary inside the buffer
    pages = [(first + i * _HUGE_PAGE, _HUGE_PAGE) for i in range(advised)]
    assert [(o, n) for o, n, a in libc.calls if a == wholefile._MADV_HUGEPAGE] == pages
    assert [t - base for t in touched] == [o for o, _ in pages][: len(times_ms)]
    small = [(o, n) for o, n, a in libc.calls if a == wholefile._MADV_POPULATE_WRITE]
    head = 4096 - 123  # the first whole small page: up to the first huge page
    tail_end = (base + size) // 4096 * 4096 - base
    assert small[0] == (head, first - head)
    rest = first + huge_pages * _HUGE_PAGE  # after the huge pages kept, all on small pages
    assert small[1:] == ([(rest, tail_end - rest)] if tail_end > rest else [])
