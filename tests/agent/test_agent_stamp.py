"""The stamping path over the real WebSocket with a real soft token: approval, PIN, concurrency, removal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.client import AgentClient, AgentError
from agent.config import Limits
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import PLACE, start_stamp

WRONG_PIN = "97531864"


async def approval_for(c: AgentClient, fut: asyncio.Future, call_id: Any = None) -> dict:
    """The approval.required event of one stamp call."""
    return await c.next_event(
        "approval.required", where=(lambda p: call_id is None or p["call_id"] == call_id)
    )


def assert_chain(agent) -> Any:
    check = agent.ctx.audit.verify()
    assert check.ok, check.reason
    return check


async def test_stamp_after_approval(agent, dev_pki, sample_pdf):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, ref = await start_stamp(c, sample_pdf)
    req = await approval_for(c, fut)
    assert (
        req["origin"] == PORTAL and req["document"]["format"] == "pdf" and req["document"]["page_count"] == 2
    )
    assert req["document"]["name"] == "contract.pdf"
    seal_id = dev_pki.seal_ids["sm2"]
    assert [s["id"] for s in req["seals"]] == [seal_id]

    preview = await c.call("preview", {"request_id": req["request_id"], "seal_id": seal_id, "dpi": 50})
    assert preview["page_count"] == 2 and preview["images"][0]["page"] == 1
    assert preview["images"][0]["png_base64"].startswith("iVBORw0KGgo")  # PNG signature, base64

    assert await c.call(
        "approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin}
    ) == {"status": "approved"}
    res = await asyncio.wait_for(fut, 60)
    out = c.result_bytes(res["document"])
    assert res["document"]["format"] == "pdf" and res["seal_id"] == seal_id
    assert out.startswith(sample_pdf)  # an incremental update: the original bytes are untouched
    assert b"/ByteRange" in out[len(sample_pdf) :]

    from stamping.pdf.stamp import stamp as _  # noqa: F401 - the PDF stamper is present

    try:
        from stamping import pdf as pdfmod

        verify = getattr(pdfmod, "verify", None)
    except ImportError:
        verify = None
    if verify is not None:
        from stamping.options import VerifyOptions

        report = await asyncio.to_thread(verify, out, VerifyOptions(trust_anchors=[]))
        seal_report = report.seals[0]
        assert seal_report.checks["integrity"].status == "ok"
        assert seal_report.checks["signature"].status == "ok"

    records = (await c.call("audit.recent", {"limit": 10}))["records"]
    by_event = {r["event"]: r for r in records}
    stamp_rec = by_event["stamp"]
    assert stamp_rec["result"] == "OK" and stamp_rec["seal_id"] == seal_id and stamp_rec["cert_serial"]
    assert stamp_rec["origin_top"] == PORTAL["top"] and stamp_rec["origin_frame"] == PORTAL["frame"]
    from formats.gm import sm3

    assert stamp_rec["doc_sm3_before"] == sm3(sample_pdf).hex()
    assert stamp_rec["doc_sm3_after"] == sm3(out).hex() == res["document"]["sm3"]
    assert by_event["approval"]["result"] == "OK"
    assert_chain(agent)
    events = [e["method"] for e in c.events]
    assert "approval.closed" in events
    phases = [
        (e["params"]["phase"], e["params"].get("fraction")) for e in c.events if e["method"] == "progress"
    ]
    assert ("signing", 1.0) in phases and phases[-1] == ("sending", 1.0)
    assert not c.frame_errors
    await c.close()


async def test_cancelled_stamp_never_signs(agent, dev_pki, sample_pdf):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, _ = await start_stamp(c, sample_pdf)
    req = await approval_for(c, fut)
    # Another page of the same site cannot stack a second dialog.
    fut2, _ = await start_stamp(c, sample_pdf)
    with pytest.raises(AgentError) as busy:
        await asyncio.wait_for(fut2, 10)
    assert busy.value.code == "BUSY"
    # approve for an unknown request id does nothing
    with pytest.raises(AgentError) as nf:
        await c.call(
            "approve", {"request_id": "0" * 32, "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
        )
    assert nf.value.code == "NOT_FOUND"
    assert await c.call("cancel", {"request_id": req["request_id"]}) == {"status": "cancelled"}
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 10)
    assert exc.value.code == "USER_CANCELLED"
    assert not c.results  # no document bytes came back
    records = agent.ctx.audit.records()
    assert not [r for r in records if r.event == "stamp" and r.result == "OK"]
    assert not [r for r in records if r.event == "approval" and r.result == "OK"]
    assert [r.result for r in records if r.event == "stamp"] == ["USER_CANCELLED"]
    assert_chain(agent)
    await c.close()


async def test_approval_times_out(agent_factory, sample_pdf):
    agent = await agent_factory(limits=Limits(approval_timeout_s=0.5))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, _ = await start_stamp(c, sample_pdf)
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 10)
    assert exc.value.code == "USER_CANCELLED" and "timed out" in exc.value.data["detail"]
    assert not c.results
    await c.close()


async def test_wrong_pin_then_right_pin(agent, dev_pki, sample_pdf):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, _ = await start_stamp(c, sample_pdf)
    req = await approval_for(c, fut)
    seal_id = dev_pki.seal_ids["sm2"]
    with pytest.raises(AgentError) as exc:
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": WRONG_PIN})
    assert exc.value.code == "PIN_INCORRECT"
    assert isinstance(exc.value.data.get("retries_left"), int)
    assert not fut.done()  # the approval stays open for another try
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 60)
    assert c.result_bytes(res["document"]).startswith(sample_pdf)
    records = agent.ctx.audit.records()
    assert [r.result for r in records if r.event == "pin_failure"] == ["PIN_INCORRECT"]
    # The PINs are nowhere in the audit database (file and WAL), nor in any record.
    stored = b"".join(p.read_bytes() for p in agent.cfg.data_dir.glob("audit.sqlite3*"))
    assert WRONG_PIN.encode() not in stored
    assert all(WRONG_PIN not in str(r.to_dict()) for r in records)
    assert_chain(agent)
    await c.close()


async def test_token_removed_mid_stamp(agent, dev_pki, sample_pdf, soft_token):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, _ = await start_stamp(c, sample_pdf)
    req = await approval_for(c, fut)
    soft_token.rename(soft_token.with_suffix(".unplugged"))  # the key is pulled out while the dialog is open
    with pytest.raises(AgentError) as exc:
        await c.call(
            "approve",
            {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin},
        )
    assert exc.value.code == "TOKEN_ABSENT"
    with pytest.raises(AgentError) as exc2:
        await asyncio.wait_for(fut, 10)
    assert exc2.value.code == "TOKEN_ABSENT"
    assert not c.results
    assert [r.result for r in agent.ctx.audit.records() if r.event == "stamp"] == ["TOKEN_ABSENT"]
    assert_chain(agent)
    await c.close()


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_token_removed_while_signing(agent, dev_pki, sample_pdf, soft_token, monkeypatch, moment):
    """The token disappears after the login, before or right after the signature: no output either way.
    (The stamp starts with the login, so the moment is taken inside sign(), once the login finished.)"""
    import importlib

    from agent.server.methods.early import DeferredSigner

    stamp_mod = importlib.import_module("agent.server.methods.stamp")
    real = stamp_mod.format_named

    class PulledAfterSigning:
        def __init__(self, signer):
            self.inner = signer
            self.certificate, self.chain, self.algorithm = signer.certificate, signer.chain, signer.algorithm

        def sign(self, *args, **kwargs):
            if moment == "before":
                if isinstance(self.inner, DeferredSigner):  # the early stamp: let its login end first
                    self.inner.wait_logged_in()
                soft_token.rename(soft_token.with_suffix(".unplugged"))
                return self.inner.sign(*args, **kwargs)
            signature = self.inner.sign(*args, **kwargs)
            soft_token.rename(soft_token.with_suffix(".unplugged"))
            return signature

    class Unplugging:
        def __init__(self, fmt):
            self.inner = real(fmt)
            self.name = self.inner.name

        def __getattr__(self, attr):
            return getattr(self.inner, attr)

        def stamp(self, data, out, signer, *args, **kwargs):
            return self.inner.stamp(data, out, PulledAfterSigning(signer), *args, **kwargs)

    monkeypatch.setattr(stamp_mod, "format_named", Unplugging)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, _ = await start_stamp(c, sample_pdf)
    req = await approval_for(c, fut)
    await c.call(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 60)
    assert exc.value.code == "TOKEN_ABSENT"
    assert not c.results
    await c.close()


async def test_fifty_concurrent_stamps_from_five_connections(agent_factory, dev_pki, sample_pdf):
    agent = await agent_factory(limits=Limits(max_pending_documents=10))
    clients = [await AgentClient.authed(agent.url, EXT, agent.secret) for _ in range(5)]
    seal_id = dev_pki.seal_ids["sm2"]

    async def one(c: AgentClient, n: int) -> bytes:
        origin = {
            "top": f"https://site{n}.example.cn",
            "frame": f"https://site{n}.example.cn",
            "grant": "always",
        }
        ref = await c.upload(sample_pdf)
        call_id, fut = await c.send_call("stamp", {"origin": origin, "document": ref, "placements": PLACE})
        waiting = asyncio.ensure_future(
            c.next_event("approval.required", 120, where=lambda p: p["call_id"] == call_id)
        )
        await asyncio.wait([waiting, fut], return_when=asyncio.FIRST_COMPLETED)
        if fut.done():  # the call failed before asking for approval
            waiting.cancel()
            fut.result()
        req = await waiting
        await c.call(
            "approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin}, 120
        )
        res = await asyncio.wait_for(fut, 180)
        return c.result_bytes(res["document"])

    outs = await asyncio.gather(*(one(clients[i % 5], i) for i in range(50)))
    assert len(outs) == 50 and all(o.startswith(sample_pdf) and len(o) > len(sample_pdf) for o in outs)
    records = agent.ctx.audit.records()
    stamps = [r for r in records if r.event == "stamp"]
    assert len(stamps) == 50 and all(r.result == "OK" for r in stamps)
    assert len({r.origin_top for r in stamps}) == 50
    check = assert_chain(agent)
    assert check.count == len(records) == 100  # 50 approvals + 50 stamps
    for c in clients:
        assert not c.frame_errors
        await c.close()


async def test_connection_lost_during_approval_is_audited(agent, dev_pki, sample_pdf):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    await start_stamp(c, sample_pdf)
    await c.next_event("approval.required")
    await c.close()
    for _ in range(200):
        stamps = [r for r in agent.ctx.audit.records() if r.event == "stamp"]
        if stamps:
            break
        await asyncio.sleep(0.02)
    assert [(r.result, r.detail.get("why")) for r in stamps] == [("USER_CANCELLED", "connection closed")]
    assert agent.ctx.approvals.open_count() == 0  # the site can ask again
    assert_chain(agent)


async def test_a_new_site_needs_the_extensions_grant(agent, dev_pki, sample_pdf):
    """The extension's prompt is the one place a site is approved: without its grant the agent refuses the
    site; with it the stamp goes on (still approved with the PIN), and the administrator's word wins."""
    site = {"top": "https://new-portal.example.cn", "frame": "https://new-portal.example.cn"}
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seal_id = dev_pki.seal_ids["sm2"]
    fut, _ = await start_stamp(c, sample_pdf, origin=site)
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 30)
    assert exc.value.code == "ORIGIN_NOT_ALLOWED"
    assert not agent.cfg.user_site_policy_path.exists()  # the agent keeps no second list

    fut, _ = await start_stamp(c, sample_pdf, origin=site | {"grant": "once"})
    req = await approval_for(c, fut)
    assert req["site_policy"] == "asks"  # the window says the site is new
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    await asyncio.wait_for(fut, 60)
    fut, _ = await start_stamp(c, sample_pdf, origin=site | {"grant": "always"})
    req = await approval_for(c, fut)
    assert req["site_policy"] == "allowed"
    await c.call("cancel", {"request_id": req["request_id"]})
    with pytest.raises(AgentError):
        await asyncio.wait_for(fut, 10)
    # The administrator's denial wins over any grant; prompting off refuses every unlisted site.
    denied = {"top": "https://denied.example", "frame": "https://denied.example", "grant": "always"}
    with pytest.raises(AgentError) as exc:
        await c.call("seals.list", {"origin": denied})
    assert exc.value.code == "ORIGIN_NOT_ALLOWED"
    # The administrator turns prompting off in the running agent's config (frozen: set it as a reload would).
    object.__setattr__(agent.cfg, "default_site_policy", "denied")
    try:
        with pytest.raises(AgentError) as exc:
            await c.call("seals.list", {"origin": site | {"grant": "always"}})
        assert exc.value.code == "ORIGIN_NOT_ALLOWED"
        assert (await c.call("hello", {}))["sites"]["prompt"] is False
    finally:
        object.__setattr__(agent.cfg, "default_site_policy", "asks")
    hello = await c.call("hello", {})
    assert hello["sites"] == {
        "prompt": True,
        "allowed": [PORTAL["top"]],
        "denied": ["https://denied.example"],
    }
    assert not c.frame_errors
    await c.close()


def test_deferred_signer_waits_for_the_login_and_signs_with_the_logged_in_key(soft_token, dev_pki):
    """The early stamp's signer: wait_logged_in() blocks until the login ends, then gives the logged-in
    signer (sign() uses it on the token's thread), or raises the login's error; nothing is signed before."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from agent.server.methods.early import DeferredSigner
    from agent.tokens.soft import SoftToken
    from formats.errors import SealBridgeError

    token = SoftToken(soft_token)
    key = token.info().keys[0]
    on_token_calls: list[str] = []

    def on_token(fn, *args):
        on_token_calls.append(threading.current_thread().name)
        return fn(*args)

    deferred = DeferredSigner(key, on_token)
    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(deferred.wait_logged_in)
        signing = pool.submit(deferred.sign, b"the document's signed attributes")
        assert not waiting.done() and not signing.done() and on_token_calls == []
        real = token.signer(dev_pki.pin)
        assert deferred.matches(real)
        deferred.resolve(real)
        assert waiting.result(30) is real
        assert signing.result(30) and len(on_token_calls) == 1

    failed = DeferredSigner(key, on_token)
    failed.fail(SealBridgeError("PIN_INCORRECT", "wrong PIN"))
    for attempt in (failed.wait_logged_in, lambda: failed.sign(b"x")):
        with pytest.raises(SealBridgeError) as exc:
            attempt()
        assert exc.value.code == "PIN_INCORRECT"
    assert len(on_token_calls) == 1  # the failed login signed nothing
