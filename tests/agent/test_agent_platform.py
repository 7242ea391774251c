"""The stamping path against a real central platform process: active seals stamp, revoked ones never do."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from agent.client import AgentClient, AgentError
from agent.platform import PlatformClient
from agent.tokens.soft import SoftToken
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import stamp_once
from tests.support.central import http, register_seal, start_central


@pytest.fixture
def central(tmp_path: Path):
    url, token, handle = start_central(tmp_path)
    yield url, token
    handle.close()


@pytest.fixture
def platform_seal(central, dev_pki, soft_token) -> str:
    """A seal made by the platform for the dev SM2 signer's certificate, put on the soft token."""
    url, token = central
    from formats.gm.keys import load_certificate

    cert_der = load_certificate(dev_pki.signer_certs["sm2"].read_bytes()).dump()
    seal = register_seal(url, token, cert_der)
    SoftToken(soft_token).add_seal(dev_pki.pin, base64.b64decode(seal["seal_der"]))
    return seal["esID"]


async def test_active_then_revoked_seal(agent_factory, central, platform_seal, dev_pki, sample_pdf, tmp_path):
    url, token = central
    client = PlatformClient(url, cache_dir=tmp_path / "platform-cache", grace_seconds=3600)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)

    fut, err = await stamp_once(c, sample_pdf, platform_seal, dev_pki.pin)
    assert err is None
    res = await asyncio.wait_for(fut, 60)
    stamped = c.result_bytes(res["document"])
    assert res["seal_id"] == platform_seal

    # The agent's verify asks the platform too: active now.
    ref = await c.upload(stamped)
    report = (await c.call("verify", {"origin": PORTAL, "document": ref}))["report"]
    assert report["seals"][0]["checks"]["platform_status"]["status"] == "ok"

    def states(seals: list[dict]) -> dict[str, dict]:
        return {s["id"]: s["status"] for s in seals}

    listed = (await c.call("seals.list", {"origin": PORTAL, "include_status": True}))["seals"]
    assert states(listed)[platform_seal] == {"state": "active", "usable": True, "code": None}
    mine = next(s for s in listed if s["id"] == platform_seal)
    assert mine["company"] == "示例科技有限公司" and mine["holder"] and mine["issuer"], mine

    code, _ = http("POST", f"{url}/api/v1/admin/seals/{platform_seal}/revoke", {"reason": "test"}, token)
    assert code == 200
    # The chooser learns it before any PIN is typed.
    listed = (await c.call("seals.list", {"origin": PORTAL, "include_status": True}))["seals"]
    assert states(listed)[platform_seal] == {"state": "revoked", "usable": False, "code": "SEAL_REVOKED"}
    assert "status" not in (await c.call("seals.list", {"origin": PORTAL}))["seals"][0]

    fut, err = await stamp_once(c, sample_pdf, platform_seal, dev_pki.pin)
    assert err is not None and err.code == "SEAL_REVOKED"
    # The refusal leaves the request open (the clerk may choose another seal); here the clerk gives up.
    assert not fut.done()
    await c.call("cancel", {"request_id": err.request_id})
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 30)
    assert exc.value.code == "USER_CANCELLED"
    assert not c.results
    records = agent.ctx.audit.records()
    stamps = [r for r in records if r.event == "stamp"]
    assert [r.result for r in stamps] == ["OK", "USER_CANCELLED"]
    assert [r.result for r in records if r.event == "approval"] == ["OK", "SEAL_REVOKED"]
    assert agent.ctx.audit.verify().ok

    # Verification of the earlier document reports both: revoked now, active when it was signed (which
    # decides the check, as the platform client defines it).
    ref = await c.upload(stamped)
    report = (await c.call("verify", {"origin": PORTAL, "document": ref}))["report"]
    check = report["seals"][0]["checks"]["platform_status"]
    assert check["status"] == "ok" and check["reasons"][0]["code"] == "PLATFORM_ACTIVE_AT_SIGNING", check
    assert check["reasons"][0]["now_status"] == "revoked", check
    since = check["reasons"][0]["since"]
    assert {"code": "SEAL_REVOKED_AFTER_SIGNING", "since": since} in report["seals"][0]["warnings"]

    # The platform's own verify endpoint (Art. 28) hands out the same report v2: only when, under which
    # policy and the platform answer's signing time (the agent checks a signed answer) may differ.
    code, theirs = http("POST", f"{url}/api/v1/verify", raw=stamped)
    assert code == 200, theirs

    def comparable(r: dict) -> dict:
        r = {k: v for k, v in r.items() if k not in ("validation_time", "policy")}
        r["document"] = {k: v for k, v in r["document"].items() if k != "name"}
        for seal in r["seals"]:
            seal.pop("best_signature_time")
            for reason in seal["checks"]["platform_status"]["reasons"]:
                reason.pop("produced_at", None)
            seal["checks"]["platform_status"].pop("detail")
        return r

    assert theirs["report_version"] == 2
    assert comparable(theirs) == comparable(report)
    assert not c.frame_errors
    await c.close()
    for _ in range(100):  # the usage report goes out in the background
        if not client.pending_usage():
            break
        await asyncio.sleep(0.05)
    assert client.pending_usage() == []


async def test_platform_unreachable_refuses(agent_factory, platform_seal, dev_pki, sample_pdf, tmp_path):
    client = PlatformClient("http://127.0.0.1:9", cache_dir=tmp_path / "cache", grace_seconds=3600, timeout=2)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, err = await stamp_once(c, sample_pdf, platform_seal, dev_pki.pin)
    assert err is not None and err.code == "PLATFORM_UNREACHABLE"
    with pytest.raises(AgentError):
        await asyncio.wait_for(fut, 30)
    assert not c.results
    await c.close()


async def test_no_platform_configured_refuses_by_default(agent_factory, dev_pki, sample_pdf):
    agent = await agent_factory(require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, err = await stamp_once(c, sample_pdf, dev_pki.seal_ids["sm2"], dev_pki.pin)
    assert err is not None and err.code == "PLATFORM_UNREACHABLE"
    with pytest.raises(AgentError):
        await asyncio.wait_for(fut, 30)
    assert not c.results
    await c.close()


async def test_usage_reaches_the_platform_signed_by_the_stamping_key(
    agent_factory, central, platform_seal, dev_pki, sample_pdf, tmp_path
):
    """Art. 24: the stamp's usage record is signed on the token in the same login and the platform,
    which refuses unsigned records, takes it into the audit chain."""
    import hashlib

    from formats.gm import sm3

    url, token = central
    client = PlatformClient(url, cache_dir=tmp_path / "platform-cache", grace_seconds=3600)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, err = await stamp_once(c, sample_pdf, platform_seal, dev_pki.pin)
    assert err is None
    stamped = c.result_bytes((await asyncio.wait_for(fut, 60))["document"])
    await asyncio.wait(list(agent.ctx._background), timeout=30)  # noqa: SLF001 - the usage sender
    assert await client.flush_usage() == 0
    code, detail = http("GET", f"{url}/api/v1/admin/seals/{platform_seal}", token=token)
    assert code == 200
    (use,) = detail["usage"]
    assert use["action"] == "stamp" and use["doc_sm3_after"] == sm3(stamped).hex()
    assert use["origin"] == PORTAL["top"] and use["signature"]
    signer_cert = base64.b64decode(use["cert"])
    assert use["cert_sha256"] == hashlib.sha256(signer_cert).hexdigest()


async def test_batch_asks_the_platform_once_per_seal(
    agent_factory, central, platform_seal, dev_pki, sample_pdf, tmp_path, monkeypatch
):
    url, _ = central
    client = PlatformClient(url, cache_dir=tmp_path / "platform-cache", grace_seconds=3600)
    asked: list[str] = []
    real = client.require_active

    async def counted(esid, *args, **kwargs):
        asked.append(esid)
        return await real(esid, *args, **kwargs)

    monkeypatch.setattr(client, "require_active", counted)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    items = [
        {"document": await c.upload(sample_pdf), "placements": [{"type": "at", "page": 1, "x": 60, "y": 60}]}
    ]
    items = items + [
        {
            "document": await c.upload(sample_pdf),
            "placements": items[0]["placements"],
            "seal_id": platform_seal,
        }
        for _ in range(3)
    ]
    fut = await c.start("stamp.batch", {"origin": PORTAL, "documents": items})
    req = await c.next_event("batch.approval.required")
    for doc in req["documents"]:
        await c.call("preview", {"request_id": req["request_id"], "index": doc["index"], "dpi": 36})
    await c.call("approve", {"request_id": req["request_id"], "seal_id": platform_seal, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 120)
    assert [d["status"] for d in res["documents"]] == ["stamped"] * 4
    assert asked == [platform_seal]  # four documents, one seal: one status question
    await c.close()
