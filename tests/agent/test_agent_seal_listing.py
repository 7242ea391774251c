"""One JSON shape of a seal: `seals.list` over the WebSocket and `sealbridge seals list --json` describe the
same seals with the same objects (the protocol's sealInfo)."""

from __future__ import annotations

import json

from agent.client import AgentClient
from agent.server.protocol import validate_def
from sealbridge.cli import main
from tests.support.agent_env import EXT, PORTAL


async def test_seals_list_and_the_cli_agree(agent, soft_token, dev_pki, tmp_path, capsys, monkeypatch):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    try:
        listed = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    finally:
        await c.close()
    assert [s["id"] for s in listed] == [dev_pki.seal_ids["sm2"]]

    monkeypatch.setenv("SEALBRIDGE_HOME", str(tmp_path / "cli-home"))  # no config of the machine's user
    capsys.readouterr()
    rc = main(["seals", "list", "--soft", str(soft_token), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["unusable"] == []
    assert out["seals"] == listed
    for seal in out["seals"]:
        validate_def("sealInfo", seal)
