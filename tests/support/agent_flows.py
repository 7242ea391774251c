"""Steps of a stamp over the agent's WebSocket that several test modules take: upload and start, approve once."""

from __future__ import annotations

import asyncio

from agent.client import AgentClient, AgentError
from tests.support.agent_env import PORTAL

PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]


async def start_stamp(
    c: AgentClient, data: bytes, origin=PORTAL, placements=PLACE
) -> tuple[asyncio.Future, dict]:
    ref = await c.upload(data, name="contract.pdf")
    fut = await c.start("stamp", {"origin": origin, "document": ref, "placements": placements})
    return fut, ref


async def stamp_once(
    c: AgentClient, data: bytes, seal_id: str, pin: str
) -> tuple[asyncio.Future, Exception | None]:
    fut, _ = await start_stamp(c, data)
    req = await c.next_event("approval.required")
    assert seal_id in [s["id"] for s in req["seals"]]
    try:
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": pin})
        return fut, None
    except AgentError as exc:
        exc.request_id = req["request_id"]  # a refused seal leaves the request open: the caller may cancel
        return fut, exc
