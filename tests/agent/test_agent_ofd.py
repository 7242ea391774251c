"""OFD through the agent: sniffed by content (whatever the name says), previewed, stamped, verified."""

from __future__ import annotations

import asyncio
import base64

from agent.client import AgentClient
from tests.support.agent_env import EXT, PORTAL

PLACE = [{"type": "at", "page": 1, "x": 60, "y": 60}]


async def test_ofd_preview_stamp_and_verify(agent, dev_pki, samples):
    data = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(data, name="contract.pdf")  # a misleading name: the content decides
    fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    assert req["document"]["format"] == "ofd" and req["document"]["page_count"] >= 1
    seal_id = dev_pki.seal_ids["sm2"]
    preview = await c.call("preview", {"request_id": req["request_id"], "seal_id": seal_id})
    assert base64.b64decode(preview["images"][0]["png_base64"]).startswith(b"\x89PNG")
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 60)
    assert res["document"]["format"] == "ofd"
    out = c.result_bytes(res["document"])

    ref = await c.upload(out)
    result = await c.call("verify", {"origin": PORTAL, "document": ref})
    seal = result["report"]["seals"][0]
    assert seal["checks"]["integrity"]["status"] == "ok" and seal["checks"]["signature"]["status"] == "ok"
    assert seal["seal"]["esID"] == seal_id
    assert not c.frame_errors
    await c.close()


async def test_verify_samples_through_the_agent(agent, samples):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    verdicts = {}
    for name in ("gomain-invoice-v4.ofd", "gomain-invoice-v4-tampered.ofd", "unsigned-helloworld.ofd"):
        ref = await c.upload((samples / "ofd" / name).read_bytes())
        verdicts[name] = (await c.call("verify", {"origin": PORTAL, "document": ref}))["report"]["verdict"]
    assert verdicts["gomain-invoice-v4-tampered.ofd"] == "invalid"
    assert verdicts["gomain-invoice-v4.ofd"] != "invalid"
    assert verdicts["unsigned-helloworld.ofd"] == "no_seals"
    records = agent.ctx.audit.records()
    assert [r.event for r in records] == ["verify"] * 3 and all(r.doc_sm3_before for r in records)
    assert not c.frame_errors
    await c.close()
