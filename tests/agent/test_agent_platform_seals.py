"""Seals and authorizations against a real central platform process: the seals it issued for the token's
certificate are offered (and cached for offline use), and an ended authorization refuses to stamp."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.client import AgentClient, AgentError
from agent.platform import PlatformClient
from agent.tokens.soft import SoftToken
from formats.gm.keys import load_certificate
from formats.ses import SealKind, parse_seal, signer_in_seal
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import stamp_once
from tests.support.central import b64, http, make_cert, register_seal, start_central


@pytest.fixture
def central(tmp_path: Path):
    url, token, handle = start_central(tmp_path)
    yield url, token, handle
    handle.close()


def _signer_cert(dev_pki) -> bytes:  # type: ignore[no-untyped-def]
    return load_certificate(dev_pki.signer_certs["sm2"].read_bytes()).dump()


async def test_seals_list_names_the_kind(agent, dev_pki):  # type: ignore[no-untyped-def]
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    listed = {s["esID"]: s for s in (await c.call("seals.list", {"origin": PORTAL}))["seals"]}
    esid = dev_pki.seal_ids["sm2"]
    assert dev_pki.seal_kinds["sm2"] == "LEGAL_NAME"
    assert listed[esid]["kind"] == "法定名称章" == SealKind.LEGAL_NAME.label_zh
    assert not c.frame_errors
    await c.close()


async def test_platform_issued_seal_is_listed_stamps_and_works_offline(  # type: ignore[no-untyped-def]
    agent_factory, central, dev_pki, sample_pdf, tmp_path
):
    url, token, handle = central
    issued = register_seal(url, token, _signer_cert(dev_pki), name="测试有限公司合同专用章")
    esid = issued["esID"]
    client = PlatformClient(url, cache_dir=tmp_path / "platform-cache", grace_seconds=3600, timeout=3)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)

    listed = {s["esID"]: s for s in (await c.call("seals.list", {"origin": PORTAL}))["seals"]}
    assert esid in listed and dev_pki.seal_ids["sm2"] in listed  # the platform's and the token's own
    assert listed[esid]["kind"] == SealKind.CONTRACT.label_zh
    # cached in the data dir under the certificate's SHA-256
    sha = hashlib.sha256(_signer_cert(dev_pki)).hexdigest()
    assert (agent.cfg.data_dir / "seals" / f"{sha}.json").is_file()

    fut, err = await stamp_once(c, sample_pdf, esid, dev_pki.pin)
    assert err is None
    res = await asyncio.wait_for(fut, 60)
    assert res["seal_id"] == esid
    stamped = c.result_bytes(res["document"])
    ref = await c.upload(stamped)
    report = (await c.call("verify", {"origin": PORTAL, "document": ref}))["report"]
    assert report["seals"][0]["seal"]["esID"] == esid
    assert report["seals"][0]["checks"]["platform_status"]["status"] == "ok"

    # Offline: the platform is gone; the seal is still offered (cache) and stamps (cached signed status).
    handle.stop()
    agent.ctx._platform_seals_at.clear()  # force a refetch attempt, which fails and falls back to the cache
    listed = {s["esID"] for s in (await c.call("seals.list", {"origin": PORTAL}))["seals"]}
    assert esid in listed
    fut, err = await stamp_once(c, sample_pdf, esid, dev_pki.pin)
    assert err is None
    assert (await asyncio.wait_for(fut, 60))["seal_id"] == esid
    assert not c.frame_errors
    await c.close()


async def test_ended_authorization_refuses_to_stamp(  # type: ignore[no-untyped-def]
    agent_factory, central, dev_pki, soft_token, sample_pdf, tmp_path
):
    """The soft token's certificate is authorized for another holder's seal; the seal revision made then
    lists it and is put on the token. After the authorization is withdrawn that revision still names the
    certificate, but the platform's signed holder_certs/authorizations refuse it: SEAL_NOT_FOR_SIGNER."""
    url, token, _ = central
    deputy = _signer_cert(dev_pki)
    _, holder = make_cert("法定代表人")
    esid = register_seal(url, token, holder)["esID"]
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    code, auth = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(deputy), "grantee": "开发签章人", "not_after": until},
        token,
    )
    assert code == 201, auth
    code, body = http("GET", f"{url}/api/v1/seals?cert={hashlib.sha256(deputy).hexdigest()}")
    old_seal = base64.b64decode(body["seals"][0]["seal_der"])
    assert signer_in_seal(parse_seal(old_seal), deputy)
    SoftToken(soft_token).add_seal(dev_pki.pin, old_seal)

    client = PlatformClient(url, cache_dir=tmp_path / "platform-cache", grace_seconds=3600, timeout=3)
    agent = await agent_factory(platform=client, require_platform=True)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, err = await stamp_once(c, sample_pdf, esid, dev_pki.pin)
    assert err is None
    await asyncio.wait_for(fut, 60)

    await asyncio.sleep(1.1)  # the withdrawal lies after the stamp above, in the platform's whole seconds
    code, _ = http("POST", f"{url}/api/v1/admin/authorizations/{auth['id']}/withdraw", {}, token)
    assert code == 200
    fut, err = await stamp_once(c, sample_pdf, esid, dev_pki.pin)
    assert err is not None and err.code == "SEAL_NOT_FOR_SIGNER", err
    await c.call("cancel", {"request_id": err.request_id})  # the refusal left the request open
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 30)
    assert exc.value.code == "USER_CANCELLED"
    records = agent.ctx.audit.records()
    assert [r.result for r in records if r.event == "stamp"] == ["OK", "USER_CANCELLED"]
    assert [r.result for r in records if r.event == "approval"] == ["OK", "SEAL_NOT_FOR_SIGNER"]

    # The agent's verify passes the signer certificate to the platform: a document the deputy signs (outside
    # the agent) with the old revision after the withdrawal fails platform_status.
    when = datetime.now(UTC) + timedelta(seconds=1)
    late = await asyncio.to_thread(_stamp_outside, dev_pki, sample_pdf, old_seal, when)
    report = (await c.call("verify", {"origin": PORTAL, "document": await c.upload(late)}))["report"]
    check = report["seals"][0]["checks"]["platform_status"]
    assert check["status"] == "failed" and "authorization" in check["detail"], check
    assert report["seals"][0]["checks"]["signer_in_seal"]["status"] == "ok"
    await c.close()


def _stamp_outside(dev_pki, pdf: bytes, seal_der: bytes, at: datetime) -> bytes:  # type: ignore[no-untyped-def]
    import io

    from formats.gm.keys import load_private_key
    from formats.keysigner import KeySigner
    from stamping.options import StampOptions
    from stamping.pdf import stamp
    from stamping.placement import At

    key = load_private_key(Path(dev_pki.signer_keys["sm2"]).read_bytes())
    out = io.BytesIO()
    stamp(
        pdf, out, KeySigner(key, _signer_cert(dev_pki)), seal_der, [At(1, 60, 60)], StampOptions(signed_at=at)
    )
    return out.getvalue()
