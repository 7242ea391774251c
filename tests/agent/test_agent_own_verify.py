"""`verify` without `origin`: the extension's own verify page (a file the user dropped there), not a web page.

No page asks, so no site policy applies; the call is rate-limited and audited under the extension's own origin
(the one the connection authenticated with). Every other page-facing call still needs a page origin."""

from __future__ import annotations

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL

PLACE = [{"type": "at", "page": 1, "x": 60, "y": 60}]


async def test_verify_without_origin_is_the_extensions_own_request(agent_factory, samples):
    agent = await agent_factory(default_site_policy="denied")  # no web origin could verify here
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload((samples / "ofd" / "gomain-invoice-v4-tampered.ofd").read_bytes())
    result = await c.call("verify", {"document": ref})
    assert result["report"]["verdict"] == "invalid"
    (rec,) = agent.ctx.audit.records()
    assert (rec.event, rec.result, rec.origin_top, rec.origin_frame) == ("verify", "OK", EXT, EXT)

    # A web origin under the same policy is refused, and stamping never goes without a page origin.
    ref = await c.upload((samples / "ofd" / "unsigned-helloworld.ofd").read_bytes())
    page = {"top": "https://elsewhere.example", "frame": "https://elsewhere.example"}
    with pytest.raises(AgentError) as refused:
        await c.call("verify", {"origin": page, "document": ref})
    assert refused.value.code == "ORIGIN_NOT_ALLOWED"
    fut = await c.start("stamp", {"document": ref, "placements": PLACE}, validate=False)
    with pytest.raises(AgentError) as bad:
        await fut
    assert bad.value.code == "BAD_REQUEST"
    assert not c.frame_errors
    await c.close()


async def test_seals_are_listed_with_their_kind_by_name(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seals = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    assert seals and all(s["kind"] and not s["kind"].isdigit() for s in seals), [s["kind"] for s in seals]
    await c.close()
