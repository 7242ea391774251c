"""Hostile documents through the agent's verify: answered with an error code, memory bounded."""

from __future__ import annotations

import tracemalloc

from tests.support.hostile import ofd_zip_bomb

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
