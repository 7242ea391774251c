"""agent/cli/wholefile.py: a large document is read into bytes on huge pages where Linux gives them and the
hypervisor (if any) does not take free memory back, and the bytes are the file's, whatever its size and
whatever it did between the size check and the read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.cli import wholefile
from agent.cli.common import read_document
from agent.cli.wholefile import HUGE_FROM, huge_pages_come_warm, read_whole
from formats.errors import SealBridgeError
from tests.support.fresh_python import run_python

_HUGE_PAGE = 2 << 20


@pytest.mark.parametrize("huge", [True, False], ids=["huge pages", "pages populated"])
@pytest.mark.parametrize(
    "size", [1, HUGE_FROM - 1, HUGE_FROM, HUGE_FROM + 4097, HUGE_FROM + 3 * _HUGE_PAGE + 12345]
)
def test_the_bytes_are_the_files(
    tmp_path: Path, size: int, huge: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wholefile, "huge_pages_come_warm", lambda: huge)
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

wholefile.huge_pages_come_warm = lambda: sys.argv[2] == "huge"

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


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage").is_dir(), reason="no transparent huge pages (Linux only)"
)
def _mappings_after_reading(tmp_path: Path, size: int, pages: str) -> tuple[list[list], list[list]]:
    """_MAPPINGS's answer for a random file of `size` bytes, read with huge pages thought warm or not."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(os.urandom(size))
    res = run_python(_MAPPINGS, str(path), pages)
    assert res.returncode == 0, res.stderr
    ours, plain = json.loads(res.stdout)
    return ours, plain


def test_a_large_document_is_read_into_memory_advised_for_huge_pages(tmp_path: Path) -> None:
    size = 16 << 20
    ours, plain = _mappings_after_reading(tmp_path, size, "huge")
    assert ["header", False] in ours, ours  # the object's header: never on an advised page
    advised = [(low, high) for low, high, flag in (m for m in ours if m[0] != "header") if flag]
    # Inside the bytes only; seven whole huge pages lie inside 16 MiB wherever it starts.
    assert advised and all(0 <= low < high <= size for low, high in advised), ours
    assert sum(high - low for low, high in advised) >= 6 * _HUGE_PAGE, ours
    assert not any(m[-1] for m in plain), plain  # a plain read asks for nothing


def test_where_huge_pages_come_cold_the_memory_is_populated_on_small_pages(tmp_path: Path) -> None:
    ours, _ = _mappings_after_reading(tmp_path, 16 << 20, "small")
    assert not any(m[-1] for m in ours), ours  # nothing advised for huge pages


def _sysfs(root: Path, *, reporting: bool, balloons: dict[str, str], hyperv: bool = False) -> Path:
    """A /sys with what huge_pages_come_warm() reads: the page_reporting module, virtio devices
    ({name: features} for balloons, beside a block device) and Hyper-V's balloon driver."""
    if reporting:
        (root / "module" / "page_reporting" / "parameters").mkdir(parents=True)
    devices = root / "bus" / "virtio" / "devices"
    devices.mkdir(parents=True)
    (devices / "virtio9").mkdir()
    (devices / "virtio9" / "device").write_text("0x0002\n")
    (devices / "virtio9" / "features").write_text("0" * 5 + "1" * 59 + "\n")  # bit 5 means nothing here
    for name, features in balloons.items():
        (devices / name).mkdir()
        (devices / name / "device").write_text("0x0005\n")
        (devices / name / "features").write_text(features + "\n")
    if hyperv:
        driver = root / "bus" / "vmbus" / "drivers" / "hv_balloon"
        driver.mkdir(parents=True)
        (driver / "525074dc-8985-46e2-8057-a307dc18a502").mkdir()
    return root


_REPORTS = "0110010" + "0" * 57  # stats, deflate on OOM, free page reporting (bit 5)
_NO_REPORTS = "0110000" + "0" * 57


@pytest.mark.parametrize(
    ("reporting", "balloons", "hyperv", "warm"),
    [
        (False, {}, False, True),  # a physical machine (no balloon)
        (False, {"virtio0": _REPORTS}, False, True),  # a kernel that cannot report
        (True, {}, False, True),  # can report, nothing to report to
        (True, {"virtio0": _NO_REPORTS}, False, True),  # a balloon that does not take free pages
        (True, {"virtio0": _NO_REPORTS, "virtio3": _REPORTS}, False, False),
        (True, {"virtio0": _REPORTS}, False, False),  # this machine's KVM guest
        (True, {"virtio0": "01"}, False, True),  # features too short to say
        (True, {}, True, False),  # Hyper-V's balloon
    ],
)
def test_huge_pages_are_cold_where_the_hypervisor_takes_free_memory_back(
    tmp_path: Path, reporting: bool, balloons: dict[str, str], hyperv: bool, warm: bool
) -> None:
    sysfs = _sysfs(tmp_path, reporting=reporting, balloons=balloons, hyperv=hyperv)
    assert huge_pages_come_warm.__wrapped__(sysfs) is warm


def test_a_missing_sysfs_means_huge_pages_come_warm(tmp_path: Path) -> None:
    assert huge_pages_come_warm.__wrapped__(tmp_path / "nothing") is True
    (tmp_path / "module" / "page_reporting").mkdir(parents=True)  # no virtio bus at all
    assert huge_pages_come_warm.__wrapped__(tmp_path) is True
