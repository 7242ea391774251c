"""A real SoftHSM2 token behind a real agent process: insert/remove events over the WebSocket, a stamp
with the PKCS#11 key, and a token pulled out while the approval dialog is open → TOKEN_ABSENT.

The agent runs as its own process with its own SOFTHSM2_CONF, so this process's PKCS#11 state (used by
the tokens suite) is never touched; tokens are made and deleted with softhsm2-util / pkcs11-tool."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL, free_port
from tests.support.agent_process import AgentProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pkcs11"))
from tests.support.softhsm import MODULE, PIN, SoftHsm  # noqa: E402

PLACE = [{"type": "at", "page": 1, "x": 100, "y": 100}]


@pytest.fixture
def hsm(tmp_path, dev_pki, monkeypatch):
    if not os.path.exists(MODULE) or not shutil.which("softhsm2-util") or not shutil.which("pkcs11-tool"):
        pytest.fail("SoftHSM2 (softhsm2, libsofthsm2) and OpenSC (pkcs11-tool) must be installed")
    root = tmp_path / "softhsm"
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))  # for the tools and the agent process
    return SoftHsm(root, dev_pki)


@pytest.fixture
def p11_agent(tmp_path, hsm):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'port = {free_port()}\nallowed_origins = ["{EXT}"]\npkcs11_modules = ["{MODULE}"]\n'
        f'require_platform = false\n[site_policy]\n"{PORTAL["top"]}" = "allowed"\n'
    )
    proc = AgentProcess(home)
    yield proc
    proc.stop()


async def test_hotplug_events_stamp_and_pull(p11_agent, hsm, dev_pki, sample_pdf):
    info = p11_agent.start()
    secret = bytes.fromhex((p11_agent.home / "data" / "pairing.secret").read_text().strip())
    c = await AgentClient.authed(info["url"], EXT, secret)
    assert (await c.call("tokens.list", {}))["tokens"] == []

    label = await asyncio.to_thread(hsm.make_token, ("ecdsa",), True, PIN, None, False)
    inserted = await c.next_event("token.inserted", 30)
    assert inserted["token"]["token_id"] == f"pkcs11:{label}" and inserted["token"]["kind"] == "pkcs11"
    seals = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    assert [s["id"] for s in seals] == [dev_pki.seal_ids["ecdsa"]] and seals[0]["algorithm"] == "ecdsa"

    ref = await c.upload(sample_pdf)
    fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    with pytest.raises(AgentError) as exc:
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seals[0]["id"], "pin": "999999"})
    assert exc.value.code == "PIN_INCORRECT"
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seals[0]["id"], "pin": PIN})
    res = await asyncio.wait_for(fut, 60)
    out = c.result_bytes(res["document"])
    assert out.startswith(sample_pdf) and b"/ByteRange" in out[len(sample_pdf) :]

    # The key is pulled out while the next approval dialog is open.
    ref = await c.upload(sample_pdf)
    fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    await asyncio.to_thread(hsm.delete_token, label)
    removed = await c.next_event("token.removed", 30)
    assert removed["token_id"] == f"pkcs11:{label}"
    with pytest.raises(AgentError) as exc:
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seals[0]["id"], "pin": PIN})
    assert exc.value.code == "TOKEN_ABSENT"
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 30)
    assert exc.value.code == "TOKEN_ABSENT"
    assert not c.results
    results = [(r["event"], r["result"]) for r in reversed((await c.call("audit.recent", {}))["records"])]
    assert results == [
        ("pin_failure", "PIN_INCORRECT"),
        ("approval", "OK"),
        ("stamp", "OK"),
        ("approval", "TOKEN_ABSENT"),
        ("stamp", "TOKEN_ABSENT"),
    ]
    assert not c.frame_errors
    await c.close()
