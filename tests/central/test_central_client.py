"""The agent-side client with the platform going away: cached signed status within the grace, durable usage queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.platform import PlatformClient
from formats.errors import SealBridgeError
from tests.support.central import http, make_cert, register_seal
from tests.support.usage import signed_usage


async def test_cache_and_grace_with_server_stopped(own_central, tmp_path):
    url, token, handle = own_central
    _, cert = make_cert()
    active = register_seal(url, token, cert)["esID"]
    suspended = register_seal(url, token, cert)["esID"]
    signed_at = datetime.now(UTC)
    http("POST", f"{url}/api/v1/admin/seals/{suspended}/suspend", {}, token)
    cache = tmp_path / "agent-cache"
    async with PlatformClient(url, cache_dir=cache, grace_seconds=3600) as client:
        assert (await client.require_active(active)).status == "active"
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(suspended)
        assert exc.value.code == "SEAL_SUSPENDED"
    handle.stop()

    # A fresh client (agent restarted) with the platform down: the signed cached answers stand in.
    async with PlatformClient(url, cache_dir=cache, grace_seconds=3600, timeout=2) as client:
        answer = await client.require_active(active)
        assert answer.from_cache and answer.status == "active"
        at = await client.status(active, signed_at)
        assert at.from_cache and at.status_at == "active" and "cached answer" in at.to_check().detail
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(suspended)
        assert exc.value.code == "SEAL_SUSPENDED"
        with pytest.raises(SealBridgeError) as exc:
            await client.status("NEVER-ASKED-0001")
        assert exc.value.code == "PLATFORM_UNREACHABLE"

    # Older than the grace: refused.
    async with PlatformClient(url, cache_dir=cache, grace_seconds=0, timeout=2) as client:
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(active)
        assert exc.value.code == "PLATFORM_UNREACHABLE" and "grace" in exc.value.detail

    # A cached answer edited on disk fails its signature check.
    path = next((cache / "status").glob("*.json"))
    envelope = json.loads(path.read_text())
    envelope["response"]["status"] = "active" if envelope["response"]["status"] != "active" else "suspended"
    envelope["response"]["history"].append(
        {"at": "2000-01-01T00:00:00.000000Z", "status": "active", "reason": "x"}
    )
    path.write_text(json.dumps(envelope))
    async with PlatformClient(url, cache_dir=cache, grace_seconds=3600, timeout=2) as client:
        with pytest.raises(SealBridgeError) as exc:
            await client.status(envelope["response"]["esID"])
        assert exc.value.code == "PLATFORM_RESPONSE_INVALID"

    # Back online: live answers again.
    handle.start()
    async with PlatformClient(url, cache_dir=cache, grace_seconds=0) as client:
        answer = await client.require_active(active)
        assert not answer.from_cache


async def test_cached_answer_expires_by_its_history(own_central, tmp_path):
    url, token, handle = own_central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    end = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/renew", {"valid_end": end.isoformat()}, token)
    new = body["new"]["esID"]
    cache = tmp_path / "cache"
    async with PlatformClient(url, cache_dir=cache) as client:
        assert (await client.require_active(new)).status == "active"
    handle.stop()
    import asyncio

    await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.2)
    async with PlatformClient(url, cache_dir=cache, timeout=2) as client:
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(new)
        assert exc.value.code == "SEAL_EXPIRED"


async def test_usage_queue_is_durable(own_central, tmp_path):
    url, token, handle = own_central
    key, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    cache = tmp_path / "cache"
    handle.stop()
    async with PlatformClient(url, cache_dir=cache, timeout=2) as client:
        left = await client.report_usage(
            [signed_usage(key, cert, esid, doc_sm3_after="ab" * 32, origin="https://portal.example")]
        )
        assert left == 1
        left = await client.report_usage(
            [signed_usage(key, cert, esid, action="verify", origin="https://portal.example")]
        )
        assert left == 2
    assert len(list((cache / "usage-queue").glob("*.json"))) == 2
    handle.start()
    async with PlatformClient(url, cache_dir=cache) as client:  # a restarted agent flushes the queue
        assert len(client.pending_usage()) == 2
        assert await client.flush_usage() == 0
    code, detail = http("GET", f"{url}/api/v1/admin/seals/{esid}", token=token)
    assert sorted(u["action"] for u in detail["usage"]) == ["stamp", "verify"]
    assert {u["origin"] for u in detail["usage"]} == {"https://portal.example"}


async def test_usage_idempotent_by_record_id(central):
    url, token, _ = central
    key, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    rec = signed_usage(key, cert, esid, id="rec-0000-0001-" + esid, doc_sm3_after="cd" * 32)
    code, body = http("POST", f"{url}/api/v1/usage", {"records": [rec]})
    assert code == 200 and body == {"accepted": [rec["id"]], "duplicate": []}
    code, body = http("POST", f"{url}/api/v1/usage", {"records": [rec]})
    assert code == 200 and body == {"accepted": [], "duplicate": [rec["id"]]}
    code, audit = http("GET", f"{url}/api/v1/admin/audit?subject={esid}", token=token)
    assert [r["action"] for r in audit["records"]].count("seal.use.stamp") == 1
    for bad in (
        {"records": []},
        {"records": [dict(rec, id="x")]},
        {"records": [dict(rec, action="sign-anything")]},
        {"records": [dict(rec, secret="pin")]},
        {"records": [dict(rec, doc_sm3_after="zz")]},
    ):
        code, body = http("POST", f"{url}/api/v1/usage", bad)
        assert code == 400 and body["error"]["code"] == "BAD_REQUEST", bad


async def test_seals_for_cert_via_client(central):
    url, token, _ = central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    async with PlatformClient(url) as client:
        seals = await client.seals_for_cert(cert)
        assert [s["esID"] for s in seals] == [esid]
        assert seals[0]["role"] == "holder" and seals[0]["seal_der"].startswith(b"\x30")
        http("POST", f"{url}/api/v1/admin/seals/{esid}/revoke", {}, token)
        assert await client.seals_for_cert(cert) == []


async def test_client_from_agent_config(central, tmp_path):
    """The agent builds its client from AgentConfig: pinned status certificate file, data dir cache, grace."""
    import base64

    from agent.config import AgentConfig

    url, token, _ = central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    code, platform = http("GET", f"{url}/api/v1/platform")
    status_der = next(
        base64.b64decode(c["der"])
        for c in platform["certificates"]
        if c["sha256"] == platform["current"]["status"]
    )
    anchor = tmp_path / "platform-status.der"
    anchor.write_bytes(status_der)
    cfg = AgentConfig(
        data_dir=tmp_path / "data", platform_url=url, platform_anchor=anchor, platform_grace_s=60
    )
    client = PlatformClient.from_config(cfg)
    try:
        assert client.grace_seconds == 60
        assert (await client.require_active(esid)).status == "active"
        assert list((tmp_path / "data" / "platform-cache" / "status").glob("*.json"))
    finally:
        await client.close()
    # anchored to another certificate: the genuine platform's answers are refused
    _, other = make_cert("not the platform")
    anchor.write_bytes(other)
    client = PlatformClient.from_config(cfg)
    try:
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(esid)
        assert exc.value.code == "PLATFORM_RESPONSE_INVALID"
    finally:
        await client.close()


async def _hostile_platform(answers: list[object]):  # type: ignore[no-untyped-def]
    """A real HTTP server that answers each usage report with the next of `answers`."""
    from aiohttp import web

    async def usage(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(answers.pop(0) if answers else {"accepted": []})

    app = web.Application()
    app.router.add_post("/api/v1/usage", usage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_usage_acknowledgements_cannot_delete_files_outside_the_queue(tmp_path):
    victim = tmp_path / "victim.json"
    victim.write_text("keep me")
    cache = tmp_path / "agent-cache"
    # The platform (or whoever answers in its place) acknowledges ids the agent never sent: a path out of
    # the queue directory, and a non-object body. Neither may touch files or crash the client.
    runner, url = await _hostile_platform(
        [
            {"accepted": ["../../victim", "../../../victim"], "duplicate": ["../victim"]},
            ["not", "an", "object"],
        ]
    )
    try:
        async with PlatformClient(url, cache_dir=cache, timeout=5) as client:
            left = await client.report_usage(esid="ES-HOSTILE-1", document_sm3="0" * 64)
            assert left == 1  # nothing the agent sent was acknowledged
            assert victim.read_text() == "keep me"
            assert await client.flush_usage() == 1  # a non-object answer keeps the queue
    finally:
        await runner.cleanup()
    assert victim.read_text() == "keep me"


async def test_usage_record_ids_that_are_not_file_names_are_refused(tmp_path):
    async with PlatformClient("http://127.0.0.1:9", cache_dir=tmp_path / "c", timeout=1) as client:
        for bad in ("../../../../tmp/x-escape", "a/b/c/d/e/f", "short", "dots.in.the.id"):
            with pytest.raises(SealBridgeError) as exc:
                await client.report_usage([{"id": bad, "esID": "ES-1", "action": "stamp"}])
            assert exc.value.code == "BAD_REQUEST"
        assert list((tmp_path / "c" / "usage-queue").iterdir()) == []
