"""The agent keeps the memory one stamp frees for the next, and gives it back once idle (agent/server/heap.py).

Measured as the system sees it: page faults (each a page handed to the process afresh) and resident size,
in fresh interpreters and in the real `sealbridge agent` process."""

from __future__ import annotations

import asyncio
import mmap
import os
from pathlib import Path

import pytest

from agent.client import AgentClient
from agent.config import load_config
from agent.server import heap
from devkit.agent_log import log_events, wait_for_log_event
from devkit.material import big_pdf
from devkit.processes import page_faults
from formats.errors import SealBridgeError
from tests.support.agent_env import EXT, free_port
from tests.support.agent_flows import stamp_once
from tests.support.agent_process import AgentProcess, write_home
from tests.support.fresh_python import run_python

glibc_only = pytest.mark.skipif(heap._glibc() is None, reason="the heap policy is glibc's (Linux)")
PAGE = mmap.PAGESIZE


def _faults_count_pages() -> bool:
    """Do page faults count the pages of a fresh block, as these tests assume? Not where transparent huge
    pages are always on (a fault then maps 2 MiB) or glibc's malloc is tuned from the environment."""
    try:
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        thp = ""
    tuned = any(name == "GLIBC_TUNABLES" or name.startswith("MALLOC_") for name in os.environ)
    return heap._glibc() is not None and "[always]" not in thp and not tuned


counts_pages = pytest.mark.skipif(
    not _faults_count_pages(),
    reason="needs glibc's defaults and page faults of one page each (THP not 'always')",
)

_FAULTS = "int(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[7])"

# A 48 MiB block (over glibc's largest mmap threshold, 32 MiB) written through, freed, and written again,
# on a thread as the PIN KDF runs: the page faults of the second time are printed.
_TWICE = f"""
import sys, threading
from agent.server.heap import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
counts = []
def use_block():
    before = {_FAULTS}
    block = b"\\x01" * (48 << 20)
    del block
    counts.append({_FAULTS} - before)
for _ in range(2):
    t = threading.Thread(target=use_block)
    t.start()
    t.join()
print(counts[1])
"""


@counts_pages
def test_a_freed_block_is_used_again_without_new_pages() -> None:
    kept = run_python(_TWICE, "keep")
    default = run_python(_TWICE, "default")
    assert kept.returncode == 0 and default.returncode == 0, kept.stderr + default.stderr
    pages = (48 << 20) // PAGE
    assert int(default.stdout) > pages * 0.9  # glibc's default: mapped afresh every time
    assert int(kept.stdout) < pages * 0.05


@glibc_only
def test_give_back_returns_the_kept_pages_to_the_system() -> None:
    res = run_python(
        """
from agent.server.heap import give_back, keep_freed_memory, resident_bytes
assert keep_freed_memory()
block = b"\\x01" * (64 << 20)
del block
kept = resident_bytes()
assert give_back()
print(kept - resident_bytes())
"""
    )
    assert res.returncode == 0, res.stderr
    assert int(res.stdout) > 56 << 20


def test_idle_trim_waits_for_quiet_and_for_every_call_to_end() -> None:
    now = [1000.0]
    trim = heap.IdleTrim(idle_seconds=60, clock=lambda: now[0], resident=lambda: 0)
    now[0] += 600
    assert not trim.due()  # nothing used since start: nothing to give back
    trim.note_activity()
    now[0] += 59
    assert not trim.due()
    now[0] += 1
    assert trim.due()
    trim.call_started()  # a stamp waits for its approval: its memory is in use
    now[0] += 600
    assert not trim.due()
    trim.call_ended()
    assert not trim.due()  # the idle time starts at the call's end
    now[0] += 60
    assert trim.due()


@glibc_only
async def test_a_call_that_ends_grown_past_the_cap_gives_memory_back_at_once() -> None:
    now = [1000.0]
    resident = [100 << 20]
    trim = heap.IdleTrim(
        idle_seconds=60, keep_at_most=512 << 20, clock=lambda: now[0], resident=lambda: resident[0]
    )
    trim.call_started()
    trim.call_started()
    resident[0] = 700 << 20  # 600 MiB more than at start
    trim.call_ended()
    assert trim.trimming is None  # another call still runs: its memory is in use
    trim.call_ended()
    assert trim.trimming is not None
    await trim.trimming
    resident[0] = 1000 << 20  # 300 MiB more than the trim left
    trim.call_started()
    trim.call_ended()
    assert trim.trimming.done()  # the one before: nothing new started
    first = trim.trimming
    resident[0] = 1300 << 20
    trim.call_started()
    trim.call_ended()
    assert trim.trimming is not first
    await trim.trimming
    now[0] += 60
    assert trim.due()  # what a cancelled call frees after an at-once trim still goes back when idle


@glibc_only
async def test_only_calls_other_than_the_keepalive_count_as_use(agent) -> None:  # type: ignore[no-untyped-def]
    trim = agent.ctx.idle_trim
    trim.keep_at_most = -(1 << 62)  # keep nothing: the end of every call that counts gives memory back
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    try:
        await c.call("hello", {})
        await c.call("hello", {})  # answered after the first call's end was handled
        assert trim.trimming is None and not trim.due()
        await c.call("tokens.list", {})
        await c.call("hello", {})
        assert trim.trimming is not None
        await trim.trimming
    finally:
        await c.close()


def test_the_idle_time_is_a_number_of_seconds_from_one_to_a_day(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("idle_memory_release_s = 5\n")
    assert load_config(cfg, env={}).idle_memory_release_s == 5.0
    for bad in ("0", "0.5", "-1", '"soon"', "true", "nan", "inf", "1e300"):
        cfg.write_text(f"idle_memory_release_s = {bad}\n")
        with pytest.raises(SealBridgeError, match="idle_memory_release_s"):
            load_config(cfg, env={})


def _agent(tmp_path: Path, soft_token: Path, idle_s: float) -> AgentProcess:
    home = tmp_path / "home"
    write_home(home, soft_token, free_port(), settings=f"idle_memory_release_s = {idle_s}\n")
    return AgentProcess(home)


async def _stamp(c: AgentClient, data: bytes, dev_pki) -> None:  # type: ignore[no-untyped-def]
    fut, err = await stamp_once(c, data, dev_pki.seal_ids["sm2"], dev_pki.pin)
    assert err is None
    result = await asyncio.wait_for(fut, 120)
    assert c.result_bytes(result["document"]).startswith(data)


@counts_pages
async def test_the_agent_stamps_again_in_the_memory_it_kept(tmp_path, soft_token, dev_pki) -> None:  # type: ignore[no-untyped-def]
    agent = _agent(tmp_path, soft_token, idle_s=3600)
    info = agent.start()
    try:
        assert [e["keeps_freed_memory"] for e in log_events(agent.home, "heap_policy")] == [True]
        secret = bytes.fromhex(load_config(env={"SEALBRIDGE_HOME": str(agent.home)}).secret_path.read_text())
        data = await asyncio.to_thread(big_pdf, 8 << 20)
        c = await AgentClient.authed(info["url"], EXT, secret)
        faults = []
        for _ in range(4):
            before = page_faults(agent.proc.pid)
            await _stamp(c, data, dev_pki)
            faults.append(page_faults(agent.proc.pid) - before)
        await c.close()
    finally:
        agent.stop()
    # Every login's KDF alone takes 64 MiB, the upload and the result 8 MiB each: mapped afresh each time
    # they would be over 80 MiB of pages per stamp (glibc's defaults: 23,000-24,000 pages of 4 KiB here).
    assert faults[0] > (64 << 20) // PAGE
    assert min(faults[1:]) < (16 << 20) // PAGE, faults


@glibc_only
async def test_an_idle_agent_gives_its_kept_memory_back_despite_keepalives(
    tmp_path, soft_token, dev_pki
) -> None:  # type: ignore[no-untyped-def]
    agent = _agent(tmp_path, soft_token, idle_s=1)
    info = agent.start()
    try:
        secret = bytes.fromhex(load_config(env={"SEALBRIDGE_HOME": str(agent.home)}).secret_path.read_text())
        data = await asyncio.to_thread(big_pdf, 8 << 20)
        c = await AgentClient.authed(info["url"], EXT, secret)
        await _stamp(c, data, dev_pki)

        async def keepalive() -> None:  # as the extension does (every 20 s there), faster than idle_s
            while True:
                await c.call("hello", {})
                await asyncio.sleep(0.3)

        pinging = asyncio.create_task(keepalive())
        given = await asyncio.to_thread(wait_for_log_event, agent.home, "memory_given_back")
        pinging.cancel()
        assert not pinging.done() or pinging.cancelled(), "the keepalive failed"
        await c.close()
    finally:
        agent.stop()
    # Given back although the connection stayed open and kept calling `hello`: a keepalive is no use.
    assert len(given) == 1, "no memory given back within a minute of the last stamp"
    assert given[0]["returned"] is True
    # At least the KDF's 64 MiB and the document went back.
    assert given[0]["resident_before"] - given[0]["resident_after"] > 64 << 20, given[0]
