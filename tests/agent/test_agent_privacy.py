"""A site the user has not allowed learns nothing about the user's seals or certificates."""

from __future__ import annotations

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL


async def test_seals_list_refuses_a_site_the_extension_has_not_approved(agent, dev_pki):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    unknown = {"top": "https://unknown-portal.example.cn", "frame": "https://unknown-portal.example.cn"}
    assert agent.cfg.default_site_policy == "asks"
    with pytest.raises(AgentError) as exc:
        await c.call("seals.list", {"origin": unknown})
    assert exc.value.code == "ORIGIN_NOT_ALLOWED"
    # Once the user approved it in the extension's prompt, it sees the seals like any allowed site.
    granted = (await c.call("seals.list", {"origin": unknown | {"grant": "once"}}))["seals"]
    allowed = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    assert [s["id"] for s in granted] == [s["id"] for s in allowed] == [dev_pki.seal_ids["sm2"]]
    refusals = [r for r in agent.ctx.audit.records() if r.event == "refusal"]
    assert [(r.result, r.origin_top) for r in refusals] == [("ORIGIN_NOT_ALLOWED", unknown["top"])]
    assert not c.frame_errors
    await c.close()
