"""stamp.batch over the real WebSocket with a real soft token: one approval, one PIN login, per-document
results, cancel part-way, a malformed document skipped, and the signed batch manifest in the audit log."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agent.batch_manifest import canonical, check_batch
from agent.client import AgentClient, AgentError
from agent.config import Limits
from devkit.documents import one_page_pdf
from formats.gm import sm3
from tests.support.agent_env import EXT, PORTAL
from tests.support.batch_checks import count_logins, verify_output

PLACE = [{"type": "at", "page": 1, "x": 60, "y": 60}]


@pytest.fixture
def mixed_docs(samples) -> list[tuple[str, bytes]]:
    """30 documents, PDF and OFD alternating."""
    ofd = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    return [(f"doc{i:02}.ofd", ofd) if i % 2 else (f"doc{i:02}.pdf", one_page_pdf(i)) for i in range(30)]


async def start_batch(
    c: AgentClient, docs: list[tuple[str, bytes]], **extra: Any
) -> tuple[asyncio.Future, dict[str, Any]]:
    items = []
    for name, data in docs:
        items.append({"document": await c.upload(data, name=name), "placements": PLACE})
    fut = await c.start("stamp.batch", {"origin": PORTAL, "documents": items, **extra})
    return fut, await c.next_event("batch.approval.required")


async def page_through(c: AgentClient, req: dict[str, Any]) -> None:
    """What the window does: render each readable document's preview once."""
    for doc in req["documents"]:
        if doc["status"] == "ready":
            await c.call("preview", {"request_id": req["request_id"], "index": doc["index"], "dpi": 36})


def batch_results(c: AgentClient) -> dict[int, dict[str, Any]]:
    return {
        e["params"]["index"]: e["params"]
        for e in c.events
        if e.get("method") == "batch.document" and e["params"]["status"] != "signing"
    }


async def test_thirty_documents_one_login_and_a_signed_manifest(agent, dev_pki, mixed_docs, monkeypatch):
    login_count = count_logins(monkeypatch)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seal_id = dev_pki.seal_ids["sm2"]
    fut, req = await start_batch(c, mixed_docs)
    assert [d["format"] for d in req["documents"]] == ["pdf", "ofd"] * 15
    assert all(d["status"] == "ready" and d["sm3"] for d in req["documents"])

    # Not every document looked at yet: the approval is refused before the token is touched.
    await c.call("preview", {"request_id": req["request_id"], "index": 0, "dpi": 36})
    with pytest.raises(AgentError) as early:
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    assert early.value.code == "BATCH_NOT_REVIEWED" and login_count[0] == 0

    await page_through(c, req)
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 300)
    assert login_count[0] == 1  # one PIN login for 30 documents
    assert [d["status"] for d in res["documents"]] == ["stamped"] * 30

    per_doc = batch_results(c)
    outputs = {i: c.result_bytes(per_doc[i]["document"]) for i in range(30)}
    for i, (_, original) in enumerate(mixed_docs):
        out = outputs[i]
        assert sm3(out).hex() == res["documents"][i]["sm3_after"] == per_doc[i]["document"]["sm3"]
        assert res["documents"][i]["sm3_before"] == sm3(original).hex()
        assert await asyncio.to_thread(verify_output, out) == ("ok", "ok"), f"document {i}"

    assert agent.ctx.audit.verify().ok
    records = agent.ctx.audit.records()
    batches = [r for r in records if r.event == "batch"]
    assert len(batches) == 1 and batches[0].result == "OK" and batches[0].seq == res["audit_seq"]
    check = check_batch(records, res["batch_id"])
    assert check is not None and check.ok, check.problems
    manifest = batches[0].detail["manifest"]
    assert sm3(canonical(manifest)).hex() == res["manifest_sm3"]
    for i, doc in enumerate(manifest["documents"]):
        assert doc["sm3_after"] == sm3(outputs[i]).hex() and doc["shown"] and doc["status"] == "stamped"
    assert not c.frame_errors
    await c.close()


async def test_cancel_after_ten_stops_the_rest(agent, dev_pki, mixed_docs, monkeypatch):
    login_count = count_logins(monkeypatch)
    from agent.server.methods import batch as batch_method

    # The real stamper, gated after its 10th document: it holds the token thread there until the cancel
    # has been answered, so the cancel lands between document 10 and 11 whatever the machine's speed.
    loop = asyncio.get_running_loop()
    tenth_done, release = asyncio.Event(), threading.Event()
    real_function, stamped = batch_method.format_named, [0]

    def gated(fmt: str) -> Any:
        real = real_function(fmt).stamp

        def stamp(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            stamped[0] += 1  # the token thread runs one document at a time
            if stamped[0] == 10:
                loop.call_soon_threadsafe(tenth_done.set)
                release.wait(120)
            return out

        return _with_stamp(real_function(fmt), stamp)

    monkeypatch.setattr(batch_method, "format_named", gated)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seal_id = dev_pki.seal_ids["sm2"]
    fut, req = await start_batch(c, mixed_docs)
    await page_through(c, req)
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    await asyncio.wait_for(tenth_done.wait(), 300)
    try:
        assert await c.call("cancel", {"request_id": req["request_id"]}) == {"status": "cancelled"}
    finally:
        release.set()
    res = await asyncio.wait_for(fut, 120)

    statuses = [d["status"] for d in res["documents"]]
    assert statuses == ["stamped"] * 10 + ["cancelled"] * 20
    per_doc = batch_results(c)
    assert sorted(i for i, p in per_doc.items() if p["status"] == "stamped") == list(range(10))
    assert all(per_doc[i]["error"]["code"] == "USER_CANCELLED" for i in range(10, 30))
    records = agent.ctx.audit.records()
    stamp_recs = [r for r in records if r.event == "stamp"]
    assert [r.result for r in stamp_recs] == ["OK"] * 10 + ["USER_CANCELLED"] * 20
    assert all(r.doc_sm3_after is None for r in stamp_recs[10:])
    batch = [r for r in records if r.event == "batch"]
    assert len(batch) == 1 and batch[0].result == "USER_CANCELLED"
    check = check_batch(records, res["batch_id"])
    assert check is not None and check.ok, check.problems
    assert agent.ctx.audit.verify().ok and login_count[0] == 1
    assert not c.frame_errors
    await c.close()


async def test_malformed_document_is_skipped_with_its_code(agent, dev_pki, mixed_docs):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seal_id = dev_pki.seal_ids["sm2"]
    docs = mixed_docs[:4]
    docs.insert(2, ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF garbage"))
    fut, req = await start_batch(c, docs)
    bad = req["documents"][2]
    assert bad["status"] == "failed" and bad["error"]["code"] == "DOC_MALFORMED"
    with pytest.raises(AgentError) as no_preview:
        await c.call("preview", {"request_id": req["request_id"], "index": 2})
    assert no_preview.value.code == "DOC_MALFORMED"
    await page_through(c, req)
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
    res = await asyncio.wait_for(fut, 120)
    assert [d["status"] for d in res["documents"]] == ["stamped", "stamped", "failed", "stamped", "stamped"]
    assert res["documents"][2]["error"]["code"] == "DOC_MALFORMED"
    records = agent.ctx.audit.records()
    assert [r.result for r in records if r.event == "batch"] == ["PARTIAL"]
    check = check_batch(records, res["batch_id"])
    assert check is not None and check.ok, check.problems
    assert not c.frame_errors
    await c.close()


async def test_unticked_documents_are_not_signed(agent, dev_pki, mixed_docs):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seal_id = dev_pki.seal_ids["sm2"]
    fut, req = await start_batch(c, mixed_docs[:3])
    # Only documents 0 and 2 stay ticked; document 1 need not be looked at then.
    for i in (0, 2):
        await c.call("preview", {"request_id": req["request_id"], "index": i, "dpi": 36})
    await c.call(
        "approve",
        {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin, "include": [0, 2]},
    )
    res = await asyncio.wait_for(fut, 120)
    assert [d["status"] for d in res["documents"]] == ["stamped", "excluded", "stamped"]
    manifest = [r for r in agent.ctx.audit.records() if r.event == "batch"][0].detail["manifest"]
    assert [d["shown"] for d in manifest["documents"]] == [True, False, True]
    await c.close()


async def test_batch_over_the_limit_is_refused(agent_factory, sample_pdf):
    agent = await agent_factory(limits=Limits(max_batch_documents=3))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    items = [{"document": await c.upload(sample_pdf), "placements": PLACE} for _ in range(4)]
    with pytest.raises(AgentError) as exc:
        await c.call("stamp.batch", {"origin": PORTAL, "documents": items})
    assert exc.value.code == "DOC_TOO_LARGE"
    assert agent.ctx.approvals.open_count() == 0
    assert [r.result for r in agent.ctx.audit.records()] == ["DOC_TOO_LARGE"]
    await c.close()


def test_show_batch_names_a_tampered_link(tmp_path):
    """A manifest whose link hash no longer matches the stamp record is reported, as is a bad signature."""
    from agent.audit import AuditLog

    log = AuditLog(tmp_path / "audit.db")
    rec = log.append(
        "stamp", "OK", doc_sm3_before="a" * 64, doc_sm3_after="b" * 64, detail={"batch_id": "f" * 32}
    )
    manifest = {
        "type": "sealbridge.batch-manifest",
        "batch_id": "f" * 32,
        "documents": [
            {
                "index": 0,
                "status": "stamped",
                "sm3_before": "a" * 64,
                "sm3_after": "c" * 64,
                "audit_seq": rec.seq,
                "audit_hash": rec.hash,
            }
        ],
    }
    log.append("batch", "OK", detail={"batch_id": "f" * 32, "manifest": manifest})
    check = check_batch(log.records(), "f" * 32)
    log.close()
    assert check is not None and not check.ok
    assert any("other document hashes" in p for p in check.problems)
    assert any("no manifest signature" in p for p in check.problems)


async def test_show_batch_prints_and_checks_every_link(agent, dev_pki, mixed_docs, capsys):
    import json
    import sqlite3

    from sealbridge.cli import main

    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, req = await start_batch(c, mixed_docs[:3])
    await page_through(c, req)
    await c.call(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    res = await asyncio.wait_for(fut, 120)
    await c.close()
    db = str(agent.cfg.audit_db)

    assert await asyncio.to_thread(main, ["audit", "show-batch", res["batch_id"], "--db", db]) == 0
    text = capsys.readouterr().out
    assert "北京时间" in text and "doc01.ofd" in text and "every link check out" in text
    assert (
        await asyncio.to_thread(main, ["audit", "show-batch", str(res["audit_seq"]), "--db", db, "--json"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["ok"] and shown["batch_id"] == res["batch_id"]

    # Rewrite one stamp record's output hash (and re-chain nothing): both the chain and the link fail.
    stamp_seq = res["documents"][1]["audit_seq"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET doc_sm3_after = ? WHERE seq = ?", ("0" * 64, stamp_seq))
    assert await asyncio.to_thread(main, ["audit", "show-batch", res["batch_id"], "--db", db, "--json"]) == 1
    broken = json.loads(capsys.readouterr().out)
    assert not broken["ok"]
    assert any(f"record {stamp_seq} states other document hashes" in p for p in broken["problems"])
    assert any("audit chain broken" in p for p in broken["problems"])
    assert await asyncio.to_thread(main, ["audit", "show-batch", "0" * 32, "--db", db]) == 2


async def test_a_stamper_bug_fails_one_document_only(agent, dev_pki, mixed_docs, monkeypatch):
    from agent.server.methods import batch as batch_method

    real_function, calls = batch_method.format_named, [0]

    def second_one_breaks(fmt: str) -> Any:
        real = real_function(fmt).stamp

        def stamp(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == 2:
                raise RuntimeError("injected")
            return real(*args, **kwargs)

        return _with_stamp(real_function(fmt), stamp)

    monkeypatch.setattr(batch_method, "format_named", second_one_breaks)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    fut, req = await start_batch(c, mixed_docs[:3])
    await page_through(c, req)
    await c.call(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    res = await asyncio.wait_for(fut, 120)
    assert [d["status"] for d in res["documents"]] == ["stamped", "failed", "stamped"]
    assert res["documents"][1]["error"]["code"] == "INTERNAL"
    assert agent.ctx.approvals.open_count() == 0
    assert check_batch(agent.ctx.audit.records(), res["batch_id"]).ok
    await c.close()


def _with_stamp(doc_format: Any, stamp: Any) -> Any:
    """The format as stamping.documents gives it, with its stamp() replaced."""
    from types import SimpleNamespace

    return SimpleNamespace(
        name=doc_format.name, stamp=stamp, verify=doc_format.verify, preview=doc_format.preview,
        page_count=doc_format.page_count,
    )  # fmt: skip
