"""A site the user has not allowed learns nothing about the user's seals or certificates."""

from __future__ import annotations

from agent.client import AgentClient
from tests.support.agent_env import EXT, PORTAL


async def test_seals_list_is_empty_for_a_site_that_is_only_asking(agent, dev_pki):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    unknown = {"top": "https://unknown-portal.example.cn", "frame": "https://unknown-portal.example.cn"}
    assert agent.cfg.default_site_policy == "asks"
    assert (await c.call("seals.list", {"origin": unknown}))["seals"] == []
    allowed = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    assert [s["id"] for s in allowed] == [dev_pki.seal_ids["sm2"]]
    assert not c.frame_errors
    await c.close()
