"""JSON-RPC framing, schema validation and binary document uploads: clear errors, and the connection
survives wherever the fault is in one message rather than in the connection."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jsonschema
import pytest

from agent.client import AgentClient, AgentError
from agent.config import Limits
from agent.server import protocol as proto
from tests.support.agent_env import EXT, PORTAL

REPO = Path(__file__).resolve().parents[2]


def test_schema_shipped_and_documented_copies_are_identical():
    packaged = (REPO / "agent" / "server" / "protocol.schema.json").read_bytes()
    documented = (REPO / "docs" / "protocol.schema.json").read_bytes()
    assert packaged == documented
    jsonschema.Draft202012Validator.check_schema(json.loads(packaged))
    assert proto.load_schema() == json.loads(packaged)  # loaded as package data


def test_every_method_has_a_handler_and_a_result_schema():
    from agent.server.methods import HANDLERS

    defs = proto.load_schema()["$defs"]
    assert set(HANDLERS) | {"auth"} == proto.methods()
    for method in proto.methods():
        assert f"result.{method}" in defs and f"request.{method}" in defs


def test_schema_rejects_extra_keys_and_bad_values():
    good = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "verify",
        "params": {"origin": PORTAL, "document": {"id": "a" * 32, "size": 3}},
    }
    proto.validate_message(good)
    for bad in (
        {**good, "extra": 1},
        {**good, "params": {**good["params"], "pin": "123456"}},
        {
            **good,
            "params": {**good["params"], "origin": {"top": "javascript:alert(1)", "frame": PORTAL["frame"]}},
        },
        {**good, "params": {**good["params"], "document": {"id": "xyz", "size": 3}}},
        {**good, "params": {**good["params"], "document": {"id": "a" * 32, "size": -1}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            proto.validate_def("request.verify", bad)


async def expect_error(client: AgentClient, text: str, rid, number: int, code: str) -> dict:
    fut = await client.send_raw(text, expect_id=rid)
    with pytest.raises(AgentError) as exc:
        await asyncio.wait_for(fut, 10)
    assert exc.value.number == number
    assert exc.value.code == code
    assert exc.value.data["message_zh"] and exc.value.data["message_en"]
    return exc.value.data


async def next_idless_error(client: AgentClient, before: int) -> dict:
    """The first error that answers no call among the events after index `before` (waits for it)."""

    def first() -> dict | None:
        errs = [m for m in client.events[before:] if "error" in m]
        return errs[0]["error"] if errs else None

    return await client.wait_for(first, 5, "an error frame")


async def test_malformed_frames_get_clear_errors_and_the_connection_survives(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    n = len(c.events)
    await c.send_raw("{not json")
    err = await next_idless_error(c, n)
    assert err["code"] == proto.PARSE_ERROR and err["data"]["code"] == "BAD_REQUEST"

    await expect_error(
        c,
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "sign.raw", "params": {}}),
        7,
        proto.METHOD_NOT_FOUND,
        "BAD_REQUEST",
    )
    await expect_error(
        c,
        json.dumps({"jsonrpc": "2.0", "id": 8, "method": "hello", "params": {}, "x": 1}),
        8,
        proto.INVALID_REQUEST,
        "BAD_REQUEST",
    )
    data = await expect_error(
        c,
        json.dumps({"jsonrpc": "2.0", "id": 9, "method": "hello", "params": {"debug": True}}),
        9,
        proto.INVALID_PARAMS,
        "BAD_REQUEST",
    )
    assert "debug" in data["detail"]
    await expect_error(
        c,
        json.dumps({"jsonrpc": "2.0", "id": 10, "method": "audit.recent", "params": {"limit": "all"}}),
        10,
        proto.INVALID_PARAMS,
        "BAD_REQUEST",
    )
    await expect_error(
        c,
        json.dumps({"jsonrpc": "1.0", "id": 11, "method": "hello", "params": {}}),
        11,
        proto.INVALID_REQUEST,
        "BAD_REQUEST",
    )
    for text in (
        "[" * 50_000,  # nesting bomb
        '{"jsonrpc":"2.0","id":3,"method":"hello","params":{},"params":{"x":1}}',  # duplicate key
        '{"jsonrpc":"2.0","id":4,"method":"audit.recent","params":{"limit":NaN}}',
    ):
        n = len(c.events)
        await c.send_raw(text)
        err = await next_idless_error(c, n)
        assert err["code"] == proto.PARSE_ERROR and err["data"]["code"] == "BAD_REQUEST"
    n = len(c.events)
    await c.send_raw(json.dumps([1, 2, 3]))
    assert (await next_idless_error(c, n))["code"] == proto.INVALID_REQUEST
    # still alive
    assert (await c.call("hello", {}))["agent"] == "sealbridge"
    assert not c.frame_errors
    await c.close()


async def test_oversize_text_frame_is_refused_but_survives(agent_factory):
    agent = await agent_factory(limits=Limits(max_text_bytes=4096))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    big = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "hello", "params": {"client": "x" * 8000}})
    n = len(c.events)
    await c.send_raw(big)
    err = await next_idless_error(c, n)
    assert err["data"]["code"] == "DOC_TOO_LARGE"
    assert (await c.call("hello", {}))["protocol"] == 1
    await c.close()


async def test_oversize_binary_frame_closes_with_1009(agent_factory):
    agent = await agent_factory(limits=Limits(max_chunk_bytes=64 * 1024))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    await c.ws.send(proto.pack_chunk(proto.KIND_UPLOAD, "b" * 32, 0, True, b"x" * (2 * 1024 * 1024)))
    await asyncio.wait_for(c.closed.wait(), 10)
    assert c.close_code == 1009  # "message too big": the frame is never buffered whole


async def test_too_many_chunks_rejects_the_document_only(agent_factory):
    agent = await agent_factory(limits=Limits(max_chunks=4))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(b"%PDF-1.7\n" + b"0" * 1000, chunk=100)
    rejected = await c.next_event("document.rejected")
    assert rejected["id"] == ref["id"] and rejected["error"]["code"] == "DOC_TOO_LARGE"
    with pytest.raises(AgentError) as exc:
        await c.call("verify", {"origin": PORTAL, "document": ref})
    assert exc.value.code == "DOC_TOO_LARGE"
    assert (await c.call("hello", {}))["agent"] == "sealbridge"
    assert not c.frame_errors
    await c.close()


async def test_document_over_the_size_cap_is_rejected(agent_factory):
    agent = await agent_factory(limits=Limits(max_document_bytes=10_000))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    ref = await c.upload(b"%PDF-1.7\n" + b"0" * 20_000, chunk=4096)
    rejected = await c.next_event("document.rejected")
    assert rejected["error"]["code"] == "DOC_TOO_LARGE"
    with pytest.raises(AgentError) as exc:
        await c.call("verify", {"origin": PORTAL, "document": ref})
    assert exc.value.code == "DOC_TOO_LARGE"
    await c.close()


async def test_upload_faults(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    # chunk 1 before chunk 0
    await c.ws.send(proto.pack_chunk(proto.KIND_UPLOAD, "c" * 32, 1, True, b"abc"))
    assert (await c.next_event("document.rejected"))["error"]["code"] == "BAD_REQUEST"
    # a result-kind frame from the client
    await c.ws.send(proto.pack_chunk(proto.KIND_RESULT, "d" * 32, 0, True, b"abc"))
    assert (await c.next_event("document.rejected"))["error"]["code"] == "BAD_REQUEST"
    # a frame shorter than its header
    await c.ws.send(b"SB\x01")
    assert (await c.next_event("document.rejected"))["error"]["code"] == "BAD_REQUEST"
    # unknown document, wrong size, wrong SM3, unfinished upload
    for ref, why in (
        ({"id": "e" * 32, "size": 3}, "no uploaded"),
        (dict(await c.upload(b"%PDF-1.7 abc"), size=99), "size"),
        (dict(await c.upload(b"%PDF-1.7 abc"), sm3="0" * 64), "SM3"),
    ):
        with pytest.raises(AgentError) as exc:
            await c.call("verify", {"origin": PORTAL, "document": ref})
        assert exc.value.code == "BAD_REQUEST" and why in exc.value.data["detail"]
    await c.ws.send(proto.pack_chunk(proto.KIND_UPLOAD, "f" * 32, 0, False, b"%PDF-"))
    with pytest.raises(AgentError) as exc:
        await c.call("verify", {"origin": PORTAL, "document": {"id": "f" * 32, "size": 5}})
    assert "incomplete" in exc.value.data["detail"]
    # not a document at all
    ref = await c.upload(b"hello world, not a PDF")
    with pytest.raises(AgentError) as exc:
        await c.call("verify", {"origin": PORTAL, "document": ref})
    assert exc.value.code == "DOC_UNSUPPORTED"
    assert (await c.call("hello", {}))["agent"] == "sealbridge"
    assert not c.frame_errors
    await c.close()


async def test_denied_and_insecure_sites_are_refused_and_audited(agent):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    for origin in (
        {"top": "https://denied.example", "frame": "https://denied.example"},
        {"top": PORTAL["top"], "frame": "https://denied.example"},
        {"top": "http://plain.example", "frame": "http://plain.example"},
    ):
        with pytest.raises(AgentError) as exc:
            await c.call("seals.list", {"origin": origin})
        assert exc.value.code == "ORIGIN_NOT_ALLOWED"
    records = (await c.call("audit.recent", {"limit": 10}))["records"]
    refusals = [r for r in records if r["event"] == "refusal"]
    assert len(refusals) == 3 and all(r["result"] == "ORIGIN_NOT_ALLOWED" for r in refusals)
    assert not c.frame_errors
    await c.close()


async def test_seals_and_tokens_list(agent, dev_pki):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    seals = (await c.call("seals.list", {"origin": PORTAL, "include_pictures": True}))["seals"]
    assert [s["id"] for s in seals] == [dev_pki.seal_ids["sm2"]]
    assert seals[0]["algorithm"] == "sm2" and seals[0]["picture_png_base64"]
    tokens = (await c.call("tokens.list", {}))["tokens"]
    assert len(tokens) == 1 and tokens[0]["kind"] == "soft" and tokens[0]["seal_count"] == 1
    assert not c.frame_errors
    await c.close()


async def test_rate_limit_per_origin(agent_factory):
    agent = await agent_factory(limits=Limits(requests_per_minute=2))
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    codes = []
    for _ in range(3):
        ref = await c.upload(b"not a document")
        try:
            await c.call("verify", {"origin": PORTAL, "document": ref})
        except AgentError as exc:
            codes.append(exc.code)
    assert codes == ["DOC_UNSUPPORTED", "DOC_UNSUPPORTED", "RATE_LIMITED"]
    await c.close()


async def test_change_pin_through_the_agent(agent, dev_pki, soft_token):
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    token_id = (await c.call("tokens.list", {}))["tokens"][0]["token_id"]
    with pytest.raises(AgentError) as exc:
        await c.call("token.changePin", {"token_id": token_id, "old_pin": "13572468", "new_pin": "24681357"})
    assert exc.value.code == "PIN_INCORRECT"
    res = await c.call(
        "token.changePin", {"token_id": token_id, "old_pin": dev_pki.pin, "new_pin": "24681357"}
    )
    assert res == {"status": "changed"}
    from agent.tokens.soft import SoftToken

    assert SoftToken(soft_token).signer("24681357").certificate
    with pytest.raises(AgentError) as exc:
        await c.call("token.changePin", {"token_id": "soft:/nope", "old_pin": "1", "new_pin": "2"})
    assert exc.value.code == "TOKEN_NOT_FOUND"
    events = [(r["event"], r["result"]) for r in (await c.call("audit.recent", {}))["records"]]
    assert ("pin_failure", "PIN_INCORRECT") in events and ("change_pin", "OK") in events
    stored = b"".join(p.read_bytes() for p in agent.cfg.data_dir.glob("audit.sqlite3*"))
    assert b"24681357" not in stored and b"13572468" not in stored
    await c.close()
