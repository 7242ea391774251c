"""Security review findings (each test failed before its fix): approvals bound to the connection that
opened them, cancel racing a login, PINs echoed in schema errors, the pending-upload byte cap, ZIP entry
counts checked before parsing, the peer-user check failing closed, and the audit head anchor."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import zipfile

import pytest

from agent.client import AgentClient, AgentError
from agent.config import Limits
from agent.server.security import peer_is_same_user
from formats.errors import SealBridgeError
from stamping.documents import sniff
from tests.support.agent_env import EXT, PORTAL

PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]


async def _open_stamp(c: AgentClient, data: bytes) -> tuple[asyncio.Future, dict]:
    ref = await c.upload(data, name="contract.pdf")
    fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    return fut, req


async def test_approval_cannot_be_used_from_another_connection(agent, dev_pki, sample_pdf):
    """approve / preview / cancel act only on requests the same connection opened (no cross-socket use of a
    request id, as Autogram's batch ids allowed)."""
    owner = await AgentClient.authed(agent.url, EXT, agent.secret)
    other = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, req = await _open_stamp(owner, sample_pdf)
    seal_id = dev_pki.seal_ids["sm2"]
    rid = req["request_id"]
    for method, params in (
        ("approve", {"request_id": rid, "seal_id": seal_id, "pin": dev_pki.pin}),
        ("preview", {"request_id": rid, "seal_id": seal_id, "dpi": 40}),
        ("cancel", {"request_id": rid}),
    ):
        with pytest.raises(AgentError) as exc:
            await other.call(method, params)
        assert exc.value.code == "NOT_FOUND", method
    assert not fut.done()
    await owner.call("approve", {"request_id": rid, "seal_id": seal_id, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 60)
    assert owner.result_bytes(res["document"]).startswith(sample_pdf)
    assert not other.results
    await owner.close()
    await other.close()


async def test_cancel_while_logging_in_never_signs(agent, dev_pki, sample_pdf):
    """A cancel answered "cancelled" while the token login runs must end the request unsigned."""
    ctx = agent.ctx
    real_login = ctx.login
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_login(entry, pin):
        entered.set()
        await release.wait()
        return await real_login(entry, pin)

    ctx.login = slow_login  # type: ignore[method-assign]
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, req = await _open_stamp(c, sample_pdf)
    approve = await c.start(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    await asyncio.wait_for(entered.wait(), 10)
    assert await c.call("cancel", {"request_id": req["request_id"]}) == {"status": "cancelled"}
    release.set()
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 30)
    assert exc.value.code == "USER_CANCELLED"
    with pytest.raises(AgentError):
        await asyncio.wait_for(approve, 10)
    assert not c.results
    stamps = [r for r in ctx.audit.records() if r.event == "stamp"]
    assert [r.result for r in stamps] == ["USER_CANCELLED"]
    assert ctx.audit.verify().ok
    await c.close()


async def test_pin_is_never_echoed_in_a_schema_error(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    long_pin = "8642097531" * 7  # over the schema's 64 characters
    calls = [
        ("approve", {"request_id": "a" * 32, "seal_id": "x", "pin": long_pin}, long_pin),
        ("approve", {"request_id": "a" * 32, "seal_id": "x", "pin": 86420975}, "86420975"),
        ("token.changePin", {"token_id": "t", "old_pin": long_pin, "new_pin": "13572468"}, long_pin),
        ("token.changePin", {"token_id": "t", "old_pin": "13572468", "new_pin": long_pin}, long_pin),
    ]
    for method, params, secret in calls:
        with pytest.raises(AgentError) as exc:
            await asyncio.wait_for(await c.start(method, params, validate=False), 10)
        assert exc.value.code == "BAD_REQUEST" and exc.value.number == -32602
        assert secret not in str(exc.value.error), (method, exc.value.error)
        assert "pin" in exc.value.data["detail"]  # the detail still names the field
    await c.close()


async def test_pending_upload_bytes_are_capped_per_connection(agent_factory):
    agent = await agent_factory(limits=Limits(max_pending_bytes=300_000, max_document_bytes=200_000))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    first = await c.upload(b"%PDF-" + bytes(199_000), chunk=50_000)
    await c.upload(b"%PDF-" + bytes(199_000), chunk=50_000)  # together over 300,000 bytes
    rejected = await c.next_event("document.rejected", within=10)
    assert rejected["error"]["code"] == "DOC_TOO_LARGE" and rejected["id"] != first["id"]
    assert "pending" in rejected["error"]["detail"]
    assert (await c.call("hello", {}))["agent"] == "sealbridge"  # the connection survives
    await c.close()


def test_zip_entry_count_is_checked_before_the_directory_is_parsed():
    """sniff runs on every upload: a central directory of 10,001 entries is refused from the end
    record's count alone, before zipfile builds a ZipInfo for each."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("OFD.xml", b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        for i in range(10_001):
            zf.writestr(f"x/{i}", b"")
    with pytest.raises(SealBridgeError) as exc:
        sniff(buf.getvalue())
    assert exc.value.code == "DOC_TOO_LARGE"


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="/proc/net/tcp is Linux")
def test_peer_user_check_fails_closed_when_the_socket_is_not_found():
    """A peer whose socket cannot be found in /proc/net/tcp is refused, not waved through."""
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname()):
            conn, _ = srv.accept()
            with conn:
                assert peer_is_same_user(conn.getpeername(), conn.getsockname())
        # A port pair no socket uses: nothing proves this peer is ours.
        assert not peer_is_same_user(("127.0.0.1", 1), srv.getsockname())


def test_deleting_the_newest_audit_records_is_detected(tmp_path):
    from agent.audit import AuditLog, verify_file

    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path)
    for i in range(5):
        log.append("verify", "OK", origin_top=f"https://s{i}.example", detail={"n": i})
    log.close()
    assert verify_file(path).ok
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit WHERE seq >= 4")
    check = verify_file(path)
    assert not check.ok and check.first_bad_seq == 4 and "deleted" in check.reason
    assert oct((path.parent / "audit.sqlite3.head").stat().st_mode & 0o777) == "0o600"


def test_rate_limiter_forgets_idle_origins(monkeypatch):
    """One key per page origin: a site with endless subdomains must not grow the table without bound."""
    import agent.server.approvals as approvals

    clock = [1000.0]
    monkeypatch.setattr(approvals.time, "monotonic", lambda: clock[0])
    limiter = approvals.RateLimiter(30)
    for i in range(limiter.MAX_KEYS):
        limiter.check(f"https://s{i}.example")
    clock[0] += 61
    limiter.check("https://late.example")
    assert len(limiter._hits) <= 2
    with pytest.raises(SealBridgeError):  # the limit itself still holds
        for _ in range(31):
            limiter.check("https://late.example")


async def test_the_signer_is_closed_after_the_stamp(agent, dev_pki, sample_pdf):
    """A PKCS#11 login must not stay open after its one stamp: the agent closes the signer (logout)."""
    ctx = agent.ctx
    real_login = ctx.login
    closed: list[bool] = []

    class Tracking:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def close(self):
            closed.append(True)

    async def login(entry, pin):
        return Tracking(await real_login(entry, pin))

    ctx.login = login  # type: ignore[method-assign]
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, req = await _open_stamp(c, sample_pdf)
    await c.call(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    res = await asyncio.wait_for(fut, 60)
    assert c.result_bytes(res["document"]).startswith(sample_pdf)
    assert closed == [True]
    await c.close()


@pytest.mark.parametrize(
    "top", ["https://denied.example.", "https://DENIED.example", "https://denied.example:443"]
)
async def test_spellings_of_a_denied_site_are_denied(agent, top):
    """The administrator denied https://denied.example; a trailing dot (a distinct origin to browsers), case
    or the default port written out must not turn that into the default "asks"."""
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    with pytest.raises(AgentError) as exc:
        await c.call("seals.list", {"origin": {"top": top, "frame": top}})
    assert exc.value.code == "ORIGIN_NOT_ALLOWED"
    await c.close()


def test_site_key_keeps_distinct_sites_apart():
    from agent.server.approvals import site_key

    assert site_key("https://a.example.:443") == "https://a.example"
    assert site_key("https://a.example:8443") == "https://a.example:8443"
    assert site_key("http://a.example:443") == "http://a.example:443"
    assert site_key("https://[::1]:443") == "https://[::1]"
