"""The thin agent: uploads hashed as their frames arrive, results hashed from the upload's SM3 state, one
PIN derivation per approved stamp, and uploads that lie about their size refused with nothing kept."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes

from agent.client import AgentClient, AgentError
from agent.server import protocol as proto
from agent.server.protocol import sm3_of_result
from agent.server.upload_copy import UploadCopy
from agent.tokens.soft import KDF_RUNS
from devkit.material import big_pdf
from formats.errors import SealBridgeError
from formats.gm import SM3Hasher
from stamping.documents import document_format
from stamping.options import VerifyOptions
from tests.support.agent_env import EXT, PORTAL
from tests.support.agent_flows import PLACE

CHUNK = 256 * 1024  # several frames per document, so the hashing runs chunk by chunk


def independent_sm3(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


@pytest.fixture(scope="module")
def pdf_3mb() -> bytes:
    return big_pdf(3 * 1024 * 1024)


async def stamp_in_chunks(c: AgentClient, data: bytes, seal_id: str, pin: str) -> tuple[bytes, dict]:
    ref = await c.upload(data, name="big.pdf", chunk=CHUNK)
    fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
    req = await c.next_event("approval.required")
    assert req["document"]["sm3"] == independent_sm3(data)
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": pin})
    res = await fut
    return await c.download(res["document"]), res


async def test_audit_sm3_of_input_and_output_equal_an_independent_sm3(agent, dev_pki, pdf_3mb) -> None:
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        out, res = await stamp_in_chunks(c, pdf_3mb, dev_pki.seal_ids["sm2"], dev_pki.pin)
    assert out.startswith(pdf_3mb) and len(out) > len(pdf_3mb)
    rec = next(r for r in agent.ctx.audit.recent(20) if r.seq == res["audit_seq"])
    assert (rec.event, rec.result) == ("stamp", "OK")
    assert rec.doc_sm3_before == independent_sm3(pdf_3mb)
    assert rec.doc_sm3_after == independent_sm3(out)
    assert res["document"]["sm3"] == independent_sm3(out)
    approved = [r for r in agent.ctx.audit.recent(20) if r.event == "approval" and r.result == "OK"]
    assert approved[0].doc_sm3_before == independent_sm3(pdf_3mb)


def test_result_digest_from_the_upload_state_equals_a_full_hash() -> None:
    original = bytes(range(256)) * 4000
    state = SM3Hasher(original)
    appended = original + b"\n% an incremental update\n"
    assert sm3_of_result(appended, original, state) == independent_sm3(appended)
    views = [memoryview(original)[:1000], memoryview(original)[1000:]]
    assert sm3_of_result(appended, views, state) == independent_sm3(appended)
    changed = b"X" + appended[1:]  # same length, first byte differs: hashed in full
    assert sm3_of_result(changed, original, state) == independent_sm3(changed)
    assert sm3_of_result(original[:10], original, state) == independent_sm3(original[:10])


async def test_soft_token_kdf_runs_once_per_approved_stamp(agent, dev_pki, pdf_3mb) -> None:
    seal_id = dev_pki.seal_ids["sm2"]
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        before = KDF_RUNS.count
        await stamp_in_chunks(c, pdf_3mb, seal_id, dev_pki.pin)
        assert KDF_RUNS.count - before == 1

        # A wrong PIN costs its own derivation; the right one then unlocks and signs with one more.
        before = KDF_RUNS.count
        ref = await c.upload(pdf_3mb, chunk=CHUNK)
        fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
        req = await c.next_event("approval.required")
        with pytest.raises(AgentError) as exc:
            await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": "999999999"})
        assert exc.value.code == "PIN_INCORRECT"
        await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": dev_pki.pin})
        res = await fut
        assert (await c.download(res["document"])).startswith(pdf_3mb)
        assert KDF_RUNS.count - before == 2


@pytest.mark.parametrize("lie", [-1, +1], ids=["fewer-bytes-than-declared", "more-bytes-than-declared"])
async def test_an_upload_lying_about_its_size_is_refused_and_nothing_is_kept(
    agent, dev_pki, pdf_3mb, lie
) -> None:
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        ref = await c.upload(pdf_3mb, chunk=CHUNK)
        ref["size"] = len(pdf_3mb) + lie
        with pytest.raises(AgentError) as exc:
            await c.call("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
        assert exc.value.code == "BAD_REQUEST"
        assert "size" in exc.value.detail
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        assert ref["id"] not in session.uploads.uploads
        assert session.uploads.pending_bytes() == 0
        assert agent.ctx.upload_budget.used == 0
        # The refusal consumed the upload: naming it again finds nothing; the connection goes on.
        ref["size"] = len(pdf_3mb)
        with pytest.raises(AgentError) as again:
            await c.call("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
        assert "no uploaded document" in again.value.detail
        out, _ = await stamp_in_chunks(c, pdf_3mb, dev_pki.seal_ids["sm2"], dev_pki.pin)
        assert out.startswith(pdf_3mb)
    records = agent.ctx.audit.recent(20)
    assert any(r.event == "refusal" and r.result == "BAD_REQUEST" for r in records)


async def test_a_wrong_sm3_in_the_call_is_refused_and_nothing_is_kept(agent, pdf_3mb) -> None:
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        ref = await c.upload(pdf_3mb, chunk=CHUNK)
        ref["sm3"] = "0" * 64
        with pytest.raises(AgentError) as exc:
            await c.call("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
        assert exc.value.code == "BAD_REQUEST" and "SM3" in exc.value.detail
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        assert session.uploads.pending_bytes() == 0 and agent.ctx.upload_budget.used == 0

    rec = next(r for r in agent.ctx.audit.recent(5) if r.event == "refusal")
    assert rec.result == "BAD_REQUEST" and rec.doc_sm3_before == independent_sm3(pdf_3mb)  # what arrived


async def test_a_call_taken_while_the_upload_is_hashing_waits_for_its_sm3(agent, dev_pki, pdf_3mb) -> None:
    """SM3 is slower than loopback, so a stamp call can name an upload whose last chunks are still hashing:
    it reads the document meanwhile, but asks for approval only with the SM3 of every byte."""
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        (session,) = [s for s in agent.ctx.sessions if s.id == c.session]
        hold = threading.Event()
        held = asyncio.get_running_loop().run_in_executor(session.hash_executor(), hold.wait)
        try:
            ref = await c.upload(pdf_3mb, chunk=CHUNK)  # its chunks queue behind the held job
            fut = await c.start("stamp", {"origin": PORTAL, "document": ref, "placements": PLACE})
            await c.call("hello", {})  # answered after the stamp call was taken up
            assert not any(e.get("method") == "approval.required" for e in c.events)
        finally:
            hold.set()
            await held
        req = await c.next_event("approval.required")
        assert req["document"]["sm3"] == independent_sm3(pdf_3mb)
        await c.call(
            "approve",
            {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin},
        )
        res = await fut
        out = await c.download(res["document"])
    assert out.startswith(pdf_3mb)
    rec = next(r for r in agent.ctx.audit.recent(5) if r.seq == res["audit_seq"])
    assert rec.doc_sm3_before == independent_sm3(pdf_3mb) and rec.doc_sm3_after == independent_sm3(out)


async def test_take_arrived_hands_over_the_bytes_before_the_sm3() -> None:
    """The Reassembler side: the chunks are there at once; hashed() waits for the hash thread and then
    knows the SM3, or refuses an SM3 the docRef got wrong (with the real one kept for the audit)."""
    data = bytes(range(256)) * 3000
    frames = proto.split_chunks(proto.KIND_UPLOAD, "a" * 32, data, 100_000)
    uploads = proto.Reassembler(10**7, 100, 200_000, 4)
    hold = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        loop = asyncio.get_running_loop()
        held = loop.run_in_executor(pool, hold.wait)
        for frame in frames:
            _, err, pending = uploads.accept(frame)
            assert err is None and pending is not None
            pending.upload.hashing = loop.run_in_executor(pool, pending.hash_and_finish)
        taken = uploads.take_arrived({"id": "a" * 32, "size": len(data), "sm3": "0" * 64})
        assert taken.join() == data and taken.sm3 == ""  # readable, not yet hashed
        assert uploads.pending_bytes() == 0  # consumed: no longer counted as pending
        hold.set()
        await held
        with pytest.raises(SealBridgeError) as exc:
            await taken.hashed()
    assert exc.value.code == "BAD_REQUEST" and "SM3" in exc.value.detail
    assert taken.sm3 == independent_sm3(data)


async def test_the_extension_way_sends_no_sm3_and_the_agent_still_hashes_both_ends(
    agent, dev_pki, pdf_3mb
) -> None:
    """The client as the extension is (digests=False): no SM3 in the docRef, the result taken by chunk count
    and size; the agent's SM3 of the upload and of the result are still right, and audited in order."""
    sent: list[dict] = []

    def hook(direction: str, msg: dict, method: str | None) -> None:
        if direction == "out" and msg.get("method") == "stamp":
            sent.append(msg["params"]["document"])

    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT, frame_hook=hook) as c:
        seal_id = dev_pki.seal_ids["sm2"]
        out, res = await c.stamp(
            pdf_3mb, PLACE, PORTAL, approve=lambda req: (seal_id, dev_pki.pin), digests=False
        )
    assert sent and "sm3" not in sent[0]
    assert out.startswith(pdf_3mb) and res["document"]["sm3"] == independent_sm3(out)
    records = agent.ctx.audit.recent(5)
    approval = next(r for r in records if r.event == "approval" and r.result == "OK")
    stamped = next(r for r in records if r.seq == res["audit_seq"])
    assert approval.seq < stamped.seq and approval.doc_sm3_before == independent_sm3(pdf_3mb)
    assert stamped.doc_sm3_after == independent_sm3(out)


@pytest.mark.parametrize("kind", ["sm2", "ecdsa", "rsa"])
async def test_the_stamp_continues_the_uploads_sm3_and_its_signature_verifies(
    agent_factory, dev_pki, soft_token, kind
) -> None:
    """The PDF stamp starts from the SM3 state the upload built (upload_copy.py) instead of hashing the
    document again: the SM2 signature's digest comes from that state, an RSA or ECDSA key's SHA-256 from
    the copy. Each signature verifies, and both audited SM3s are those of the bytes."""
    shutil.copy2(dev_pki.tokens[kind], soft_token)  # the agent's private token file holds this key
    agent = await agent_factory()
    data = big_pdf(1024 * 1024)
    async with await AgentClient.connect(agent.url, agent.secret, origin=EXT) as c:
        seal_id = dev_pki.seal_ids[kind]
        out, res = await c.stamp(
            data, PLACE, PORTAL, approve=lambda req: (seal_id, dev_pki.pin), digests=False
        )
    report = await asyncio.to_thread(document_format(out).verify, out, VerifyOptions(trust_anchors=[]))
    (seal,) = report.seals
    assert seal.checks["integrity"].status == "ok" and seal.checks["signature"].status == "ok"
    rec = next(r for r in agent.ctx.audit.recent(5) if r.seq == res["audit_seq"])
    assert rec.doc_sm3_before == independent_sm3(data) and rec.doc_sm3_after == independent_sm3(out)


def test_an_upload_copy_copies_the_bytes_and_continues_the_state_it_was_given() -> None:
    data = bytes(range(256)) * 20_000
    sink = io.BytesIO()
    copy = UploadCopy(data, sink, SM3Hasher(data), "sha256")
    states = copy.start().result()
    assert sink.getvalue() == data
    assert states["sm3"].hexdigest() == independent_sm3(data)
    assert states["sha256"].hexdigest() == hashlib.sha256(data).hexdigest()


def test_result_chunks_become_frames_in_place() -> None:
    """A ChunkedOutput keeps room for the frame header in front of each chunk: the frames are its chunks
    with the header written in (no copy of the document), and they read back as the output, in order."""
    out = proto.ChunkedOutput(1000)
    data = bytes(range(256)) * 20
    for piece in (data[:7], data[7:2500], data[2500:]):  # writes across chunk boundaries
        out.write(piece)
    assert out.size == len(data) and out.getvalue() == data and out.sm3() == independent_sm3(data)
    frames = list(proto.iter_chunks(proto.KIND_RESULT, "b" * 32, out, 1000))
    assert [f is c for f, c in zip(frames, out.chunks, strict=True)] == [True] * 6
    heads = [proto.HEADER.unpack_from(f) for f in frames]
    assert [(h[0], h[2], h[3].hex(), h[4], h[5]) for h in heads] == [
        (proto.MAGIC, proto.KIND_RESULT, "b" * 32, i, int(i == 5)) for i in range(6)
    ]
    assert b"".join(bytes(f[proto.HEADER_SIZE :]) for f in frames) == data
