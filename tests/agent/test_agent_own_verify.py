"""`verify` without `origin`: the extension's own verify page (a file the user dropped there), not a web page.

No page asks, so no site policy applies; the call is rate-limited and audited under the extension's own origin
(the one the connection authenticated with). Every other page-facing call still needs a page origin."""

from __future__ import annotations

import pytest

from agent.client import AgentClient, AgentError
from tests.support.agent_env import EXT, PORTAL

PLACE = [{"type": "at", "page": 1, "x": 60, "y": 60}]


async def test_verify_without_origin_is_the_extensions_own_request(agent_factory, samples):
    agent = await agent_factory(default_site_policy="denied")  # no web origin could verify here
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload((samples / "ofd" / "gomain-invoice-v4-tampered.ofd").read_bytes())
    result = await c.call("verify", {"document": ref})
    assert result["report"]["verdict"] == "invalid"
    (rec,) = agent.ctx.audit.records()
    assert (rec.event, rec.result, rec.origin_top, rec.origin_frame) == ("verify", "OK", EXT, EXT)

    # A web origin under the same policy is refused, and stamping never goes without a page origin.
    ref = await c.upload((samples / "ofd" / "unsigned-helloworld.ofd").read_bytes())
    page = {"top": "https://elsewhere.example", "frame": "https://elsewhere.example"}
    with pytest.raises(AgentError) as refused:
        await c.call("verify", {"origin": page, "document": ref})
    assert refused.value.code == "ORIGIN_NOT_ALLOWED"
    fut = await c.start("stamp", {"document": ref, "placements": PLACE}, validate=False)
    with pytest.raises(AgentError) as bad:
        await fut
    assert bad.value.code == "BAD_REQUEST"
    assert not c.frame_errors
    await c.close()


async def test_seals_are_listed_with_their_kind_by_name(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seals = (await c.call("seals.list", {"origin": PORTAL}))["seals"]
    assert seals and all(s["kind"] and not s["kind"].isdigit() for s in seals), [s["kind"] for s in seals]
    await c.close()


async def test_verify_with_evidence_returns_the_evidence_pdf(agent_factory, samples):
    """The verify page's "导出验证报告 (PDF)": the agent makes the evidence report from the same report."""
    import json

    from stamping.evidence.build import attached_report

    agent = await agent_factory()
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    data = (samples / "ofd" / "gomain-invoice-v4-tampered.ofd").read_bytes()
    ref = await c.upload(data, name="发票.ofd")
    result = await c.call("verify", {"document": ref, "evidence": "pdf"})
    assert not c.frame_errors
    pdf = c.result_bytes(result["evidence"])
    assert pdf.startswith(b"%PDF") and result["evidence"]["format"] == "pdf"
    assert json.loads(attached_report(pdf) or b"null") == result["report"]
    (rec,) = agent.ctx.audit.records()
    assert rec.event == "verify" and rec.detail["evidence"] is True
    await c.close()


async def test_the_reports_document_digests_are_the_uploads(agent, dev_pki, samples, tmp_path):
    """SM3 and SHA-256 of the very bytes uploaded, whichever hashes them: the upload (SM3, as it arrives),
    the agent (an OFD's SHA-256) or the PDF verifier's one pass (both, with the signatures' digests)."""
    import asyncio
    import hashlib

    from formats.gm import sm3
    from tests.support.hostile import stamped_pdf

    pdf = await asyncio.to_thread(stamped_pdf, dev_pki, tmp_path)  # the CLI runs its own event loop
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    for data in (pdf, (samples / "ofd" / "gomain-invoice-v4-tampered.ofd").read_bytes()):
        report = (await c.call("verify", {"document": await c.upload(data)}))["report"]
        assert report["seals"], report
        assert report["document"]["sm3"] == sm3(data).hex()
        assert report["document"]["sha256"] == hashlib.sha256(data).hexdigest()
    await c.close()
