"""A small product-side client for the agent protocol v1 (docs/protocol.md), for scripts, the demo and
integrations that run on the same machine as the agent.

It speaks as the extension does: WebSocket to ws://127.0.0.1:<port>/v1 with `Origin` = the pinned extension
origin, answers the HMAC challenge with the per-user pairing secret (and checks the agent's proof back, so a
process squatting on the port gets no documents), then JSON-RPC 2.0 text frames, documents as binary frames
(upload kind 1, result kind 2, 25-byte header), and events.

    async with await AgentClient.connect(url, secret) as agent:
        ref = await agent.upload(pdf_bytes, name="form.pdf")
        out, result = await agent.stamp(pdf_bytes, placements, origin, approve=lambda req: (seal_id, pin))

A stamp only runs after `approve` for its request id (the extension's approval window does that with the
PIN); `stamp(..., approve=…)` plays that part for trusted local tooling. PINs are never logged or kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from agent.known_extensions import CHROMIUM_EXTENSION_ORIGIN
from agent.server import protocol as proto
from agent.server.security import client_proof, server_proof
from formats.gm import sm3

DEFAULT_TIMEOUT = 60.0
UPLOAD_CHUNK_BYTES = 1024 * 1024

Origin = dict[str, str]  # {"top": page origin, "frame": frame origin}
# Given the approval.required params, return (seal_id, pin); None declines (the request is cancelled).
Approver = Callable[
    [dict[str, Any]], "tuple[str, str | None] | None | Awaitable[tuple[str, str | None] | None]"
]


class AgentError(Exception):
    """A JSON-RPC error from the agent, with its stable code and both languages."""

    def __init__(self, error: dict[str, Any]):
        self.number = error.get("code")
        self.data: dict[str, Any] = dict(error.get("data") or {})
        self.code: str = str(self.data.get("code") or "INTERNAL")
        self.message_zh: str = str(self.data.get("message_zh") or "")
        self.message_en: str = str(self.data.get("message_en") or error.get("message") or self.code)
        self.detail: str = str(self.data.get("detail") or "")
        super().__init__(f"{self.code}: {self.message_en}" + (f" ({self.detail})" if self.detail else ""))


class AgentConnectionError(ConnectionError):
    """The agent could not be reached, refused the upgrade, or failed to prove the pairing secret."""


@dataclass
class _Download:
    parts: list[bytes] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


def page_origin(url_origin: str) -> Origin:
    """The origin object of a top-level page (no frames)."""
    return {"top": url_origin, "frame": url_origin}


class AgentClient:
    """One authenticated connection. Use `connect()`; close with `close()` or `async with`."""

    def __init__(self, ws: ClientConnection, origin: str):
        self.ws = ws
        self.origin = origin
        self.session: str | None = None
        self._ids = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._downloads: dict[str, _Download] = {}
        self._events: list[dict[str, Any]] = []
        self._event_signal = asyncio.Event()
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._challenge: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    # -- connecting ----------------------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        secret: bytes,
        origin: str = CHROMIUM_EXTENSION_ORIGIN,
        timeout_s: float = 10.0,
    ) -> AgentClient:
        """Open the WebSocket and authenticate (HMAC challenge). Raises AgentConnectionError."""
        try:
            ws = await ws_connect(url, origin=origin, max_size=None, open_timeout=timeout_s, ping_interval=20)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise AgentConnectionError(f"cannot open {url}: {exc}") from None
        client = cls(ws, origin)
        try:
            await client._authenticate(secret, timeout_s)
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def connect_home(
        cls, home: str | Path, origin: str = CHROMIUM_EXTENSION_ORIGIN, timeout_s: float = 10.0
    ) -> AgentClient:
        """Connect to the agent whose $SEALBRIDGE_HOME is `home` (its runtime file and pairing secret)."""
        home = Path(home)
        try:
            runtime = json.loads((home / "run" / "agent.json").read_text())
            secret = bytes.fromhex((home / "data" / "pairing.secret").read_text().strip())
        except (OSError, ValueError) as exc:
            raise AgentConnectionError(f"no running agent under {home}: {exc}") from None
        return await cls.connect(f"ws://127.0.0.1:{int(runtime['port'])}/v1", secret, origin, timeout_s)

    async def _authenticate(self, secret: bytes, timeout_s: float) -> None:
        try:
            challenge = await asyncio.wait_for(asyncio.shield(self._challenge), timeout_s)
        except TimeoutError:
            raise AgentConnectionError("the agent sent no auth.challenge") from None
        nonce = bytes.fromhex(challenge["nonce"])
        cnonce = secrets.token_bytes(32)
        mac = client_proof(secret, nonce, cnonce, self.origin)
        try:
            res = await self.call("auth", {"client_nonce": cnonce.hex(), "mac": mac}, timeout_s=timeout_s)
        except (AgentError, ConnectionError) as exc:
            raise AgentConnectionError(f"authentication failed: {exc}") from None
        if res.get("server_mac") != server_proof(secret, nonce, cnonce, self.origin):
            raise AgentConnectionError("the agent did not prove the pairing secret (not our agent?)")
        self.session = res.get("session")

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(self._closed.wait(), 5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    # -- reading -------------------------------------------------------------------------------------------

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
            self._closed.set()
            self._event_signal.set()
            why = f"connection closed ({self.ws.close_code})"
            if not self._challenge.done():
                self._challenge.set_exception(AgentConnectionError(why))
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(why))
            for dl in self._downloads.values():
                dl.done.set()

    def _on_binary(self, frame: bytes) -> None:
        if len(frame) < proto.HEADER_SIZE:
            return
        magic, version, kind, raw_id, index, flags = proto.HEADER.unpack_from(frame)
        if magic != proto.MAGIC or version != proto.FRAME_VERSION or kind != proto.KIND_RESULT:
            return
        dl = self._downloads.setdefault(raw_id.hex(), _Download())
        if index != len(dl.parts):
            dl.parts.clear()  # out of order: the size/SM3 check in download() will refuse the result
            dl.done.set()
            return
        dl.parts.append(frame[proto.HEADER_SIZE :])
        if flags & proto.FLAG_LAST:
            dl.done.set()

    def _on_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        if "method" in msg:
            method, params = str(msg["method"]), msg.get("params") or {}
            if method == "auth.challenge" and not self._challenge.done():
                self._challenge.set_result(params)
                return
            self._events.append(msg)
            self._event_signal.set()
            for cb in list(self._listeners):
                with contextlib.suppress(Exception):  # a listener's bug never breaks the connection
                    cb(method, params)
            return
        fut = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
        if fut is None or fut.done():
            return
        if "result" in msg:
            fut.set_result(msg["result"])
        else:
            fut.set_exception(AgentError(msg.get("error") or {}))

    # -- events --------------------------------------------------------------------------------------------

    def on_event(self, callback: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(method, params)` for every event; returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def next_event(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """The oldest unconsumed event of that name (optionally matching `where(params)`); it is consumed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            for i, msg in enumerate(self._events):
                if msg.get("method") == method and (where is None or where(msg.get("params") or {})):
                    del self._events[i]
                    return msg.get("params") or {}
            if self._closed.is_set():
                raise ConnectionError(f"connection closed while waiting for {method}")
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {method} event within {timeout_s} s")
            self._event_signal.clear()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._event_signal.wait(), left)

    # -- calls ---------------------------------------------------------------------------------------------

    async def start(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, asyncio.Future]:
        """Send a call without waiting for its answer: (request id, future of the result)."""
        if self._closed.is_set():
            raise ConnectionError("the connection to the agent is closed")
        self._ids += 1
        rid = self._ids
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        await self.ws.send(json.dumps(msg, ensure_ascii=False))
        return rid, fut

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        _, fut = await self.start(method, params)
        return await asyncio.wait_for(fut, timeout_s)

    async def upload(
        self, data: bytes, name: str | None = None, chunk_bytes: int = UPLOAD_CHUNK_BYTES
    ) -> dict:
        """Send a document as binary frames; returns the docRef a call names it by."""
        if not data:
            raise ValueError("an empty document cannot be uploaded")
        doc_id = secrets.token_hex(16)
        for frame in proto.split_chunks(proto.KIND_UPLOAD, doc_id, data, chunk_bytes):
            await self.ws.send(frame)
        ref: dict[str, Any] = {"id": doc_id, "size": len(data), "sm3": sm3(data).hex()}
        if name:
            ref["name"] = name[:255]
        return ref

    async def download(self, doc: dict[str, Any], timeout_s: float = DEFAULT_TIMEOUT) -> bytes:
        """The bytes of a result document (docOut), checked against its size and SM3."""
        dl = self._downloads.setdefault(doc["id"], _Download())
        await asyncio.wait_for(dl.done.wait(), timeout_s)
        self._downloads.pop(doc["id"], None)
        data = b"".join(dl.parts)
        if len(dl.parts) != doc.get("chunks", len(dl.parts)) or len(data) != doc["size"]:
            raise AgentError({"data": {"code": "INTERNAL", "detail": "result document incomplete"}})
        if sm3(data).hex() != doc["sm3"]:
            raise AgentError({"data": {"code": "INTERNAL", "detail": "result document SM3 mismatch"}})
        return data

    # -- the page-facing calls -----------------------------------------------------------------------------

    async def hello(self) -> dict[str, Any]:
        return await self.call("hello", {"client": "sealbridge-python", "protocol": proto.PROTOCOL_VERSION})

    async def seals(self, origin: Origin, include_pictures: bool = False) -> list[dict[str, Any]]:
        res = await self.call("seals.list", {"origin": origin, "include_pictures": include_pictures})
        return list(res["seals"])

    async def verify(self, data: bytes, origin: Origin, name: str | None = None) -> dict[str, Any]:
        """The verification report (stamping.report shape) for a document."""
        ref = await self.upload(data, name)
        res = await self.call("verify", {"origin": origin, "document": ref}, timeout_s=120)
        return res["report"]

    async def stamp(
        self,
        data: bytes,
        placements: list[dict[str, Any]],
        origin: Origin,
        *,
        approve: Approver,
        name: str | None = None,
        seal_id: str | None = None,
        options: dict[str, Any] | None = None,
        timeout_s: float = 120.0,
    ) -> tuple[bytes, dict[str, Any]]:
        """Stamp: upload, `stamp`, answer the approval with `approve(request)` -> (seal_id, pin), and
        return (stamped bytes, stamp result). Errors come back as AgentError (e.g. SEAL_REVOKED)."""
        ref = await self.upload(data, name)
        params: dict[str, Any] = {"origin": origin, "document": ref, "placements": placements}
        if seal_id:
            params["seal_id"] = seal_id
        if options:
            params["options"] = options
        call_id, fut = await self.start("stamp", params)
        try:
            res = await self._approve_and_wait(call_id, fut, approve, timeout_s)
        finally:
            if not fut.done():  # given up on (an error or a cancellation here): never left dangling
                self._pending.pop(call_id, None)
                fut.cancel()
        out = await self.download(res["document"])
        return out, res

    async def _approve_and_wait(
        self, call_id: int, fut: asyncio.Future, approve: Approver, timeout_s: float
    ) -> dict[str, Any]:
        """Wait for the stamp's approval.required (or an early answer), answer it, then await the result."""
        approval = asyncio.create_task(
            self.next_event("approval.required", lambda p: p.get("call_id") == call_id)
        )
        done, _ = await asyncio.wait({fut, approval}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if fut in done or not done:  # refused before any approval (policy, malformed, busy…) or silence
            approval.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await approval
            if not done:
                raise TimeoutError("the stamp call got neither an approval request nor an answer")
            return fut.result()
        request_id = approval.result()["request_id"]
        try:
            choice = approve(approval.result())
            if asyncio.iscoroutine(choice) or isinstance(choice, Awaitable):
                choice = await choice
            if choice is None:
                await self.call("cancel", {"request_id": request_id})
            else:
                chosen, pin = choice
                answer: dict[str, Any] = {"request_id": request_id, "seal_id": chosen}
                if pin:
                    answer["pin"] = pin
                await self.call("approve", answer, timeout_s=timeout_s)
        except BaseException:
            # A refused approval (wrong PIN, revoked seal…) or a failing approver leaves the request open;
            # close it so the site's one-dialog slot is free, then report the original error.
            with contextlib.suppress(AgentError, ConnectionError, TimeoutError):
                await self.call("cancel", {"request_id": request_id}, timeout_s=10)
            with contextlib.suppress(AgentError, ConnectionError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(fut, 10)
            raise
        return await asyncio.wait_for(fut, timeout_s)
