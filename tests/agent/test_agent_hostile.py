"""Hostile documents through the agent's verify: answered with an error code, memory bounded."""

from __future__ import annotations

import asyncio
import tracemalloc

from tests.support.hostile import deep_trailer, ofd_zip_bomb, stamped_pdf

from .conftest import EXT
from .wsclient import AgentClient, RpcFailure

MIB = 1 << 20


async def test_verify_zip_bomb_is_refused_without_inflating(agent, samples):
    bomb = ofd_zip_bomb(samples)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(bomb)
    tracemalloc.start()
    try:
        try:
            result = await c.call("verify", {"document": ref})
        except RpcFailure as err:
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
    except RpcFailure as err:
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
