"""A test client for the agent: a real WebSocket (websockets library) that checks every text frame it
sends or receives against the protocol schema, answers the HMAC challenge, uploads documents as binary
frames and reassembles result documents."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import jsonschema
import websockets
from websockets.asyncio.client import ClientConnection, connect

from agent.server import protocol as proto
from agent.server.security import client_proof, server_proof


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("data", {}).get("code"), error)
        self.error = error
        self.data = error.get("data", {})
        self.code = self.data.get("code")
        self.number = error.get("code")


def check_outgoing(msg: dict[str, Any]) -> None:
    proto.validate_message(msg)
    proto.validate_def(f"request.{msg['method']}", msg)


class AgentClient:
    def __init__(self, ws: ClientConnection, origin: str):
        self.ws = ws
        self.origin = origin
        self._next_id = 1
        self._pending: dict[Any, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self.events: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self.results: dict[str, list[bytes]] = {}
        self.received: list[dict[str, Any]] = []
        self.challenge: dict[str, Any] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.schema_errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, origin: str, **kw: Any) -> AgentClient:
        ws = await connect(url, origin=origin, max_size=None, open_timeout=10, **kw)
        client = cls(ws, origin)
        await client.wait_challenge()
        return client

    @classmethod
    async def authed(cls, url: str, origin: str, secret: bytes) -> AgentClient:
        client = await cls.open(url, origin)
        await client.auth(secret)
        return client

    async def wait_challenge(self, within: float = 10) -> dict[str, Any]:
        for _ in range(int(within * 100)):
            if self.challenge is not None:
                return self.challenge
            await asyncio.sleep(0.01)
        raise AssertionError("no auth.challenge from the agent")

    async def auth(self, secret: bytes) -> dict[str, Any]:
        nonce = bytes.fromhex(self.challenge["params"]["nonce"])
        cnonce = secrets.token_bytes(32)
        mac = client_proof(secret, nonce, cnonce, self.origin)
        res = await self.call("auth", {"client_nonce": cnonce.hex(), "mac": mac})
        assert res["server_mac"] == server_proof(secret, nonce, cnonce, self.origin), (
            "agent did not prove the secret"
        )
        return res

    # -- reading --------------------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self._on_binary(frame)
                else:
                    self._on_text(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            for _, fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"closed {self.close_code}"))
                    fut.exception()  # mark retrieved: a test that does not await it is not an error

    def _on_binary(self, frame: bytes) -> None:
        magic, version, kind, raw_id, index, flags = proto.HEADER.unpack_from(frame)
        assert magic == proto.MAGIC and version == 1 and kind == proto.KIND_RESULT
        parts = self.results.setdefault(raw_id.hex(), [])
        assert index == len(parts), "result chunks out of order"
        parts.append(frame[proto.HEADER_SIZE :])

    def _on_text(self, text: str) -> None:
        msg = json.loads(text)
        self.received.append(msg)
        try:
            proto.validate_message(msg)
        except jsonschema.ValidationError as exc:
            self.schema_errors.append(f"{exc.message} in {text[:300]}")
        if "method" in msg:
            if msg["method"] == "auth.challenge":
                self.challenge = msg
            self.events.append(msg)
            return
        entry = self._pending.pop(msg.get("id"), None)
        if entry is None:
            self.events.append(msg)  # an error with id null (e.g. a parse error)
            return
        method, fut = entry
        if "result" in msg:
            try:
                proto.validate_def(f"result.{method}", msg["result"])
            except jsonschema.ValidationError as exc:
                self.schema_errors.append(f"result.{method}: {exc.message}")
            fut.set_result(msg["result"])
        else:
            fut.set_exception(RpcFailure(msg["error"]))

    async def next_event(self, method: str, within: float = 30, where: Any = None) -> dict[str, Any]:
        """The oldest event of that name not yet taken (optionally matching `where(params)`)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within
        while True:
            for i, msg in enumerate(self.events):
                if i in self._taken or msg.get("method") != method:
                    continue
                if where is None or where(msg["params"]):
                    self._taken.add(i)
                    return msg["params"]
            if loop.time() > end:
                raise TimeoutError(f"no {method} event")
            if self.closed.is_set():
                raise ConnectionError(f"closed {self.close_code} while waiting for {method}")
            await asyncio.sleep(0.01)

    # -- calls ----------------------------------------------------------------------------------------------

    def request(
        self, method: str, params: dict[str, Any], validate: bool = True
    ) -> tuple[Any, asyncio.Future]:
        rid = self._next_id
        self._next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        if validate:
            check_outgoing(msg)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (method, fut)
        return msg, fut

    async def call(
        self, method: str, params: dict[str, Any] | None = None, within: float = 60
    ) -> dict[str, Any]:
        fut = await self.start(method, params or {})
        return await asyncio.wait_for(fut, within)

    async def start(self, method: str, params: dict[str, Any], validate: bool = True) -> asyncio.Future:
        msg, fut = self.request(method, params, validate)
        await self.ws.send(json.dumps(msg))
        return fut

    async def send_raw(self, text: str, expect_id: Any = None) -> asyncio.Future:
        """Send a frame the schema may reject; the answer is awaited by `expect_id` (or the next id-less error)."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if expect_id is not None:
            self._pending[expect_id] = ("raw", fut)
        await self.ws.send(text)
        return fut

    async def upload(self, data: bytes, chunk: int = 256 * 1024, name: str | None = None) -> dict[str, Any]:
        doc_id = secrets.token_hex(16)
        for frame in proto.split_chunks(proto.KIND_UPLOAD, doc_id, data, chunk):
            await self.ws.send(frame)
        ref: dict[str, Any] = {"id": doc_id, "size": len(data)}
        if name:
            ref["name"] = name
        return ref

    def result_bytes(self, doc: dict[str, Any]) -> bytes:
        data = b"".join(self.results.pop(doc["id"]))
        assert len(data) == doc["size"]
        return data

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self.closed.wait(), 10)
        self._reader.cancel()
