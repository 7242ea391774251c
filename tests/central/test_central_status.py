"""Signed status: the agent-side client verifies it; forged or altered answers are refused."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from agent.platform import PlatformClient, make_status_lookup
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, SM2PrivateKey
from tests.support.central import http, make_cert, register_seal


def _platform_status_cert(url: str) -> bytes:
    code, body = http("GET", f"{url}/api/v1/platform")
    assert code == 200
    status_sha = body["current"]["status"]
    return next(base64.b64decode(c["der"]) for c in body["certificates"] if c["sha256"] == status_sha)


async def test_status_signature_verifies_and_pins(central, tmp_path):
    url, token, _ = central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    # explicit trust anchor
    async with PlatformClient(url, trusted_certs=[_platform_status_cert(url)]) as client:
        answer = await client.status(esid)
        assert answer.status == "active" and answer.esid == esid and not answer.from_cache
    # fetch-and-pin on first use, persisted in the cache dir
    async with PlatformClient(url, cache_dir=tmp_path / "c") as client:
        assert (await client.status(esid)).status == "active"
    assert (tmp_path / "c" / "platform-pins.json").exists()
    code, envelope = http("GET", f"{url}/api/v1/seals/{esid}/status")
    assert envelope["signature_algorithm"] == OID_SM2_SM3
    assert envelope["response"]["platform_cert"] == envelope["cert_sha256"]


@pytest.fixture
async def forging_server(central):
    """A real HTTP server that relays the genuine platform's answers after forging them in various ways."""
    url, _, _ = central
    mode = {"how": "genuine"}
    other_key = SM2PrivateKey.generate()
    _, other_cert = make_cert("Evil Platform")

    async def status(request: web.Request) -> web.Response:
        code, env = http(
            "GET", f"{url}/api/v1/seals/{request.match_info['esid']}/status?{request.query_string}"
        )
        env = copy.deepcopy(env)
        how = mode["how"]
        if how == "flip":  # change the answer, keep the genuine signature
            env["response"]["status"] = "active" if env["response"]["status"] != "active" else "revoked"
        elif how == "other-key":  # re-sign with another key, still claiming the genuine certificate
            env["response"]["status"] = "active"
            env["signature"] = base64.b64encode(other_key.sign(canonical_json(env["response"]))).decode()
        elif how == "other-cert":  # a consistent envelope under a certificate the client never pinned
            import hashlib

            sha = hashlib.sha256(other_cert).hexdigest()
            env["response"]["platform_cert"] = sha
            env["cert_sha256"] = sha
            env["signature"] = base64.b64encode(other_key.sign(canonical_json(env["response"]))).decode()
        elif how == "garbage":
            env["signature"] = "AAAA"
        elif how == "swap-seal":  # a genuine answer about another seal
            env["response"]["esID"] = "SOMETHING-ELSE"
        return web.json_response(env)

    async def platform(request: web.Request) -> web.Response:
        code, body = http("GET", f"{url}/api/v1/platform")
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api/v1/seals/{esid}/status", status)
    app.router.add_get("/api/v1/platform", platform)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", mode
    await server.close()


async def test_forged_responses_are_rejected(central, forging_server):
    url, token, _ = central
    relay, mode = forging_server
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    http("POST", f"{url}/api/v1/admin/seals/{esid}/revoke", {}, token)
    async with PlatformClient(relay, trusted_certs=[_platform_status_cert(url)]) as client:
        mode["how"] = "genuine"
        assert (await client.status(esid)).status == "revoked"
        for how in ("flip", "other-key", "other-cert", "garbage"):
            mode["how"] = how
            with pytest.raises(SealBridgeError) as exc:
                await client.status(esid)
            assert exc.value.code == "PLATFORM_RESPONSE_INVALID", how
            with pytest.raises(SealBridgeError) as exc:
                await client.require_active(esid)
            assert exc.value.code == "PLATFORM_RESPONSE_INVALID", how
        mode["how"] = "swap-seal"
        with pytest.raises(SealBridgeError) as exc:
            await client.status(esid)
        assert exc.value.code == "PLATFORM_RESPONSE_INVALID"


async def test_status_at_signing_time(central):
    url, token, _ = central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    await asyncio.sleep(0.05)
    signed_at = datetime.now(UTC)
    await asyncio.sleep(0.05)
    code, _ = http("POST", f"{url}/api/v1/admin/seals/{esid}/revoke", {"reason": "注销"}, token)
    assert code == 200
    async with PlatformClient(url) as client:
        answer = await client.status(esid, signed_at)
        assert answer.status == "revoked" and answer.status_at == "active"
        check = answer.to_check()
        first = check.reasons[0]
        assert check.status == "ok" and first.code == "PLATFORM_ACTIVE_AT_SIGNING", check
        assert first.params["now_status"] == "revoked" and first.params["since"], check
        later = await client.status(esid, datetime.now(UTC) + timedelta(seconds=1))
        assert later.status_at == "revoked" and later.to_check().status == "failed"
        before = await client.status(esid, signed_at - timedelta(days=2))
        assert before.status_at in ("not_yet_valid", "not_issued") and before.to_check().status == "failed"
        with pytest.raises(SealBridgeError) as exc:
            await client.require_active(esid)
        assert exc.value.code == "SEAL_REVOKED"
    # the synchronous StatusLookup of `sealbridge verify --platform URL`
    lookup = make_status_lookup(url)
    check = await asyncio.to_thread(lookup, esid, signed_at)
    assert check.status == "ok", check
    assert check.code == "PLATFORM_ACTIVE_AT_SIGNING" and check.reasons[0].params["now_status"] == "revoked"
    missing = await asyncio.to_thread(lookup, "NOT-A-SEAL-1", signed_at)
    assert missing.status == "unknown"
    dead = make_status_lookup("http://127.0.0.1:9", timeout=2)
    assert (await asyncio.to_thread(dead, esid, signed_at)).status == "unknown"
    lookup.close()
    dead.close()


async def test_batch_status(central):
    url, token, _ = central
    _, cert = make_cert()
    a = register_seal(url, token, cert)["esID"]
    b = register_seal(url, token, cert)["esID"]
    http("POST", f"{url}/api/v1/admin/seals/{b}/suspend", {}, token)
    code, env = http(
        "POST", f"{url}/api/v1/status", {"esIDs": [a, b, "NO-SUCH-SEAL"], "at": datetime.now(UTC).isoformat()}
    )
    assert code == 200
    client = PlatformClient(url, trusted_certs=[_platform_status_cert(url)])
    response = client.verify_envelope(env, "status-batch")
    got = {s["esID"]: s["status"] for s in response["statuses"]}
    assert got == {a: "active", b: "suspended", "NO-SUCH-SEAL": "unknown"}
    code, body = http("POST", f"{url}/api/v1/status", {"esIDs": [f"X{i:05d}" for i in range(101)]})
    assert code == 400
    code, body = http("POST", f"{url}/api/v1/status", {"esIDs": "abc"})
    assert code == 400


async def test_stale_live_answer_rejected(central, monkeypatch):
    url, token, _ = central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    async with PlatformClient(url) as client:
        await client.status(esid)
        # a client whose clock is an hour ahead sees the live answer as a replay
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600)
        with pytest.raises(SealBridgeError) as exc:
            await client.status(esid)
        assert exc.value.code == "PLATFORM_RESPONSE_INVALID"
