"""How a stamp request ends when something goes wrong once it was approved: every ending is in the audit log
and told to the page, and a token login that no stamp took is logged out."""

from __future__ import annotations

import asyncio
import importlib
import threading

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import PLACE

stamp_method = importlib.import_module("agent.server.methods.stamp")  # the package re-exports stamp()


class _TrackedSigner:
    """The logged-in signer, with the close() (log out) a PKCS#11 signer has."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner
        self.certificate, self.chain, self.algorithm = inner.certificate, inner.chain, inner.algorithm
        self.logged_out = threading.Event()

    def sign(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._inner.sign(*args, **kwargs)

    def close(self) -> None:
        self.logged_out.set()


async def test_a_bug_after_the_approval_is_audited_and_told(agent, dev_pki, sample_pdf, monkeypatch) -> None:
    """Not a SealBridgeError (a bug, a library's own exception): the page gets INTERNAL, the approval window
    hears the request failed, and the log has the stamp attempt."""

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(stamp_method, "_finish_stamp", broken)
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        ref = await c.upload(sample_pdf)
        fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
        req = await c.next_event("approval.required")
        pin = dev_pki.pin
        await c.call(
            "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": pin}
        )
        with pytest.raises(AgentError) as exc:
            await fut
        assert exc.value.code == "INTERNAL"
        closed = [e for e in c.events if e.get("method") == "approval.closed"]
        assert [e["params"]["outcome"] for e in closed] == ["approved", "failed"]
    records = [r for r in agent.ctx.audit.recent(10) if r.event == "stamp"]
    assert records and records[-1].result == "INTERNAL"
    assert (
        records[-1].detail["request_id"] == req["request_id"]
        and records[-1].detail["error"] == "RuntimeError"
    )


async def test_a_login_no_stamp_took_is_logged_out(agent, dev_pki, sample_pdf, monkeypatch) -> None:
    """The connection closes between a successful login and the stamp (here: while the approval is being
    written to the log): the request ends as cancelled, and the token is logged out, not left logged in."""
    ctx = agent.ctx
    signers: list[_TrackedSigner] = []
    real_login, real_record = ctx.login, ctx.record
    approval_written = asyncio.Event()

    async def login(entry, pin):  # type: ignore[no-untyped-def]
        signers.append(_TrackedSigner(await real_login(entry, pin)))
        return signers[-1]

    async def record(event, result, **fields):  # type: ignore[no-untyped-def]
        if (event, result) == ("approval", "OK"):
            approval_written.set()
            await asyncio.Event().wait()  # a slow disk: the connection closes meanwhile
        return await real_record(event, result, **fields)

    monkeypatch.setattr(ctx, "login", login)
    monkeypatch.setattr(ctx, "record", record)
    c = await AgentClient.connect(agent.url, agent.secret, origin=EXT)
    ref = await c.upload(sample_pdf)
    await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    await c.start(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    await asyncio.wait_for(approval_written.wait(), 30)
    await c.close()  # the page goes away right after approving
    (signer,) = signers
    assert await asyncio.get_running_loop().run_in_executor(None, signer.logged_out.wait, 30)
    ended = [r for r in ctx.audit.recent(10) if r.event == "stamp"]
    assert ended and ended[-1].result == "USER_CANCELLED" and ended[-1].detail["stage"] == "signing"
