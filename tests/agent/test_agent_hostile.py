"""Hostile documents through the agent's verify: answered with an error code, memory bounded."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import start_stamp
from tests.support.hostile import deep_trailer, ofd_zip_bomb, stamped_pdf

MIB = 1 << 20


async def test_verify_zip_bomb_is_refused_without_inflating(agent, samples):
    bomb = ofd_zip_bomb(samples)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(bomb)
    tracemalloc.start()
    try:
        try:
            result = await c.call("verify", {"document": ref})
        except AgentError as err:
            assert err.code in ("DOC_MALFORMED", "DOC_TOO_LARGE")
        else:
            assert result["report"]["extra"].get("document_error"), result
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MIB, f"the agent allocated {peak / MIB:.0f} MiB for a 400-byte page"
    await c.close()


async def test_verify_deep_nesting_is_malformed(agent, dev_pki, tmp_path):
    deep = deep_trailer(await asyncio.to_thread(stamped_pdf, dev_pki, tmp_path))  # the CLI runs its own loop
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(deep)
    try:
        await c.call("verify", {"document": ref})
    except AgentError as err:
        assert err.code == "DOC_MALFORMED", err.code
    else:
        raise AssertionError("a 100,000-deep trailer was verified")
    (rec,) = agent.ctx.audit.records()
    assert rec.result == "DOC_MALFORMED"
    await c.close()


async def test_pings_do_not_extend_the_auth_timeout(agent_factory):
    """A client that only pings is still closed when the auth deadline passes."""
    from agent.config import Limits

    agent = await agent_factory(limits=Limits(auth_timeout_s=1.0))
    client = await AgentClient.open(agent.url, EXT)

    async def keep_pinging() -> None:
        while not client.closed.is_set():
            try:
                await client.ws.ping()
            except Exception:  # noqa: BLE001 - the agent closed the connection
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(keep_pinging(), 15)
    await asyncio.wait_for(client.closed.wait(), 5)
    assert client.close_code == 4401


async def test_pending_uploads_are_capped_across_connections(agent_factory):
    """More connections do not buy more memory: a global cap over every connection's pending uploads,
    given back when a connection closes."""
    from agent.config import Limits

    limits = Limits(max_pending_bytes=300_000, max_pending_bytes_total=400_000)
    agent = await agent_factory(limits=limits)
    first = await AgentClient.authed(agent.url, EXT, agent.secret)
    second = await AgentClient.authed(agent.url, EXT, agent.secret)
    await first.upload(b"%PDF-" + bytes(249_995), chunk=50_000)
    await second.upload(b"%PDF-" + bytes(249_995), chunk=50_000)  # each under its own cap; together over
    rejected = await second.next_event("document.rejected", within=10)
    assert rejected["error"]["code"] == "DOC_TOO_LARGE" and "all connections" in rejected["error"]["detail"]
    assert agent.ctx.upload_budget.used == 250_000
    await first.close()
    await second.close()


def test_closed_connection_gives_its_uploads_back():
    from agent.server.protocol import KIND_UPLOAD, Reassembler, UploadBudget, split_chunks

    budget = UploadBudget(400_000)
    one, two = (Reassembler(10**6, 100, 100_000, 8, 300_000, budget) for _ in range(2))
    for frame in split_chunks(KIND_UPLOAD, "a" * 32, bytes(250_000), 50_000):
        assert one.feed(frame)[1] is None
    errors = [two.feed(f)[1] for f in split_chunks(KIND_UPLOAD, "b" * 32, bytes(250_000), 50_000)]
    assert [e.code for e in errors if e] == ["DOC_TOO_LARGE"]
    one.clear()
    assert budget.used == 0
    for frame in split_chunks(KIND_UPLOAD, "c" * 32, bytes(250_000), 50_000):
        assert two.feed(frame)[1] is None
    assert budget.used == 250_000 == two.pending_bytes()


async def test_unhashed_bytes_are_bounded_per_connection(agent_factory):
    """Frames arrive faster than SM3 hashes them, and the chunks of an upload that failed (or that a call
    took) stay queued for hashing after they left the pending caps: a connection reads no further frame
    while more than max_unhashed_bytes wait. (Hashing is held here, so nothing gets hashed meanwhile.)"""
    from agent.config import Limits
    from agent.server import protocol as proto

    limit, chunk = 200_000, 50_000
    agent = await agent_factory(limits=Limits(max_unhashed_bytes=limit, max_pending_bytes=300_000))
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        hold = threading.Event()
        held = asyncio.get_running_loop().run_in_executor(session.hash_executor(), hold.wait)
        payload = b"%PDF-" + bytes(chunk - 5)

        async def send_failing_uploads() -> None:
            for n in range(20):  # each: two good chunks, then one out of order (the upload fails)
                doc = f"{n:032x}"
                for i in (0, 1, 5):
                    await c.ws.send(proto.pack_chunk(proto.KIND_UPLOAD, doc, i, False, payload))

        sender = asyncio.create_task(send_failing_uploads())
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while session.unhashed_bytes <= limit:  # the session reads until it is past the limit, then waits
                assert asyncio.get_running_loop().time() < deadline, session.unhashed_bytes
                await asyncio.sleep(0.01)
            assert session.unhashed_bytes <= limit + chunk
            assert len(session.uploads.uploads) < 20  # it stopped reading: most uploads not even begun
        finally:
            hold.set()
            await held
        await asyncio.wait_for(sender, 30)
        rejected = [await c.next_event("document.rejected", within=30) for _ in range(20)]
        assert {r["error"]["code"] for r in rejected} == {"BAD_REQUEST"}
        await c.call("hello", {})  # every frame read; the connection serves calls again
        # The hash thread runs its jobs in order: once one queued now has run, every earlier one has.
        await asyncio.get_running_loop().run_in_executor(session.hash_executor(), lambda: None)
        assert session.unhashed_bytes == 0
        assert session.uploads.pending_bytes() == 0


async def test_a_refused_call_frees_its_upload(agent_factory, sample_pdf):
    """A call refused before it takes its document (here the rate limit) consumes the upload all the same:
    refused calls do not fill the connection's or the agent's upload caps."""
    agent = await agent_factory()
    agent.ctx.rate.per_minute = 1
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        await c.verify(sample_pdf, PORTAL)  # the one call of this minute
        for _ in range(2):
            with pytest.raises(AgentError) as exc:
                await c.verify(sample_pdf, PORTAL)
            assert exc.value.code == "RATE_LIMITED"
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        assert session.uploads.pending_bytes() == 0 and agent.ctx.upload_budget.used == 0


async def test_documents_held_by_running_calls_are_capped(agent_factory, sample_pdf):
    """Taken by a call, a document is no longer a pending upload but still in memory (a stamp holds it while
    it waits for its approval): the documents of every running call together have a cap too; a call over it
    is refused, consumes its upload, and the room comes back when the other call ends, however it ends."""
    from agent.config import Limits

    limit = len(sample_pdf) + len(sample_pdf) // 2  # room for one document, not two
    agent = await agent_factory(limits=Limits(max_in_use_bytes_total=limit))
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        fut, _ = await start_stamp(c, sample_pdf)
        req = await c.next_event("approval.required")  # the stamp holds its document while it waits
        assert agent.ctx.in_use_budget.used == len(sample_pdf)
        with pytest.raises(AgentError) as exc:
            await c.verify(sample_pdf, PORTAL)
        assert exc.value.code == "RATE_LIMITED" and "in use" in (exc.value.detail or "")
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        assert session.uploads.pending_bytes() == 0 and agent.ctx.in_use_budget.used == len(sample_pdf)
        await c.call("cancel", {"request_id": req["request_id"]})
        with pytest.raises(AgentError):
            await fut
        assert agent.ctx.in_use_budget.used == 0
        report = await c.verify(sample_pdf, PORTAL)  # room again
        assert report["verdict"] == "no_seals"
        assert agent.ctx.in_use_budget.used == 0
