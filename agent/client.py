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

The same client drives the agent in the tests: `frame_hook(direction, message, method)` sees every text frame
sent ("out", before sending) and received ("in"); the test suite installs one that validates each frame
against docs/protocol.schema.json (an error on a received frame is kept in `frame_errors`, never raised into
the connection). Lower-level pieces (`open` without authenticating, `start`, `send_raw`, `events`,
`received`) exist for those tests and for diagnostics.
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
from formats.gm import SM3Hasher, sm3

DEFAULT_TIMEOUT = 60.0
UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024  # as the extension sends (extension/background/agent-client.js)

Origin = dict[str, str]  # {"top": page origin, "frame": frame origin}
# Given the approval.required params, return (seal_id, pin); None declines (the request is cancelled).
Approver = Callable[
    [dict[str, Any]], "tuple[str, str | None] | None | Awaitable[tuple[str, str | None] | None]"
]
# ("out" | "in", the JSON-RPC message, the method of the call a result answers or None); raising on "out"
# stops the send, raising on "in" is recorded in AgentClient.frame_errors.
FrameHook = Callable[[str, dict[str, Any], "str | None"], None]


class AgentError(Exception):
    """A JSON-RPC error from the agent, with its stable code and both languages."""

    def __init__(self, error: dict[str, Any]):
        self.error = error
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
    parts: list[memoryview] = field(default_factory=list)  # views into the received frames
    done: asyncio.Event = field(default_factory=asyncio.Event)


def page_origin(url_origin: str) -> Origin:
    """The origin object of a top-level page (no frames)."""
    return {"top": url_origin, "frame": url_origin}


class AgentClient:
    """One connection. Use `connect()` (authenticated); close with `close()` or `async with`."""

    #: The hook a new client gets when none is passed (the test suite sets this to its schema check).
    default_frame_hook: FrameHook | None = None

    def __init__(self, ws: ClientConnection, origin: str, frame_hook: FrameHook | None = None):
        self.ws = ws
        self.origin = origin
        self.frame_hook = frame_hook if frame_hook is not None else type(self).default_frame_hook
        self.session: str | None = None
        self.challenge: dict[str, Any] | None = None  # the auth.challenge message
        self.events: list[dict[str, Any]] = []  # every notification, and errors that answer no call
        self.received: list[dict[str, Any]] = []  # every text frame received
        self.frame_errors: list[str] = []  # what the frame hook found wrong in received frames
        self.closed = asyncio.Event()
        self._ids = 0
        self._pending: dict[Any, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._downloads: dict[str, _Download] = {}
        self._taken: set[int] = set()
        self._changed = asyncio.Event()  # set whenever a frame arrives or the connection closes
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._reader = asyncio.create_task(self._read())

    # -- connecting ----------------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        origin: str = CHROMIUM_EXTENSION_ORIGIN,
        timeout_s: float = 10.0,
        frame_hook: FrameHook | None = None,
    ) -> AgentClient:
        """Open the WebSocket and wait for the agent's auth.challenge, without authenticating."""
        try:
            ws = await ws_connect(url, origin=origin, max_size=None, open_timeout=timeout_s, ping_interval=20)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise AgentConnectionError(f"cannot open {url}: {exc}") from None
        client = cls(ws, origin, frame_hook)
        try:
            await client.wait_challenge(timeout_s)
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def connect(
        cls,
        url: str,
        secret: bytes,
        origin: str = CHROMIUM_EXTENSION_ORIGIN,
        timeout_s: float = 10.0,
        frame_hook: FrameHook | None = None,
    ) -> AgentClient:
        """Open the WebSocket and authenticate (HMAC challenge). Raises AgentConnectionError."""
        client = await cls.open(url, origin, timeout_s, frame_hook)
        try:
            await client.auth(secret, timeout_s)
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def authed(cls, url: str, origin: str, secret: bytes, timeout_s: float = 10.0) -> AgentClient:
        """`connect` with the origin first (as a test names who it speaks for)."""
        return await cls.connect(url, secret, origin, timeout_s)

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

    async def wait_challenge(self, within: float = 10.0) -> dict[str, Any]:
        """The agent's auth.challenge message (it sends one right after the upgrade)."""
        try:
            return await self.wait_for(lambda: self.challenge, within, "auth.challenge")
        except (TimeoutError, ConnectionError) as exc:
            raise AgentConnectionError(f"the agent sent no auth.challenge: {exc}") from None

    async def auth(self, secret: bytes, timeout_s: float = 10.0) -> dict[str, Any]:
        """Answer the HMAC challenge and check the agent's proof back (a squatter on the port fails here)."""
        challenge = await self.wait_challenge(timeout_s)
        nonce = bytes.fromhex(challenge["params"]["nonce"])
        cnonce = secrets.token_bytes(32)
        mac = client_proof(secret, nonce, cnonce, self.origin)
        try:
            res = await self.call("auth", {"client_nonce": cnonce.hex(), "mac": mac}, timeout_s)
        except (AgentError, ConnectionError, TimeoutError) as exc:
            raise AgentConnectionError(f"authentication failed: {exc}") from None
        if res.get("server_mac") != server_proof(secret, nonce, cnonce, self.origin):
            raise AgentConnectionError("the agent did not prove the pairing secret (not our agent?)")
        self.session = res.get("session")
        return res

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code if self.closed.is_set() else None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(self.closed.wait(), 5)
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
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()
            why = f"connection closed ({self.ws.close_code})"
            for _method, fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(why))
                    fut.exception()  # retrieved: a caller that no longer waits for it is not an error
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
        dl.parts.append(memoryview(frame)[proto.HEADER_SIZE :])
        if flags & proto.FLAG_LAST:
            dl.done.set()

    def _check_frame(self, direction: str, msg: dict[str, Any], method: str | None) -> None:
        if self.frame_hook is None:
            return
        if direction == "out":
            self.frame_hook(direction, msg, method)
            return
        try:
            self.frame_hook(direction, msg, method)
        except Exception as exc:  # noqa: BLE001 - recorded for whoever checks, never breaks the connection
            self.frame_errors.append(
                f"{type(exc).__name__}: {getattr(exc, 'message', exc)} in {str(msg)[:300]}"
            )

    def _on_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self.frame_errors.append(f"not JSON: {text[:300]}")
            return
        if not isinstance(msg, dict):
            self.frame_errors.append(f"not a JSON object: {text[:300]}")
            return
        self.received.append(msg)
        if "method" in msg:
            self._check_frame("in", msg, None)
            method, params = str(msg["method"]), msg.get("params") or {}
            if method == "auth.challenge" and self.challenge is None:
                self.challenge = msg
            self.events.append(msg)
            for cb in list(self._listeners):
                with contextlib.suppress(Exception):  # a listener's bug never breaks the connection
                    cb(method, params)
            return
        entry = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
        answered = entry[0] if entry and entry[0] != "raw" and "result" in msg else None
        self._check_frame("in", msg, answered)
        if entry is None:
            self.events.append(msg)  # an error that answers no call (id null: a parse error)
            return
        fut = entry[1]
        if fut.done():
            return
        if "result" in msg:
            fut.set_result(msg["result"])
        else:
            fut.set_exception(AgentError(msg.get("error") or {}))

    async def wait_for(self, found: Callable[[], Any], within: float, what: str) -> Any:
        """Wait until `found()` returns something other than None (checked again on every frame that arrives,
        never by polling); its result. TimeoutError after `within` s, ConnectionError when the connection ends."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within
        while True:
            result = found()
            if result is not None:
                return result
            if self.closed.is_set():
                raise ConnectionError(f"connection closed ({self.ws.close_code}) while waiting for {what}")
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {what} within {within} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    # -- events --------------------------------------------------------------------------------------------

    def on_event(self, callback: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
        """Call `callback(method, params)` for every event; returns a function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    async def next_event(
        self,
        method: str,
        within: float = DEFAULT_TIMEOUT,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The params of the oldest event of that name not yet taken (optionally matching `where(params)`);
        it is taken, so the next call finds the next one."""

        def first() -> dict[str, Any] | None:
            for i, msg in enumerate(self.events):
                if i in self._taken or msg.get("method") != method:
                    continue
                params = msg.get("params") or {}
                if where is None or where(params):
                    self._taken.add(i)
                    return params
            return None

        return await self.wait_for(first, within, f"{method} event")

    # -- calls ---------------------------------------------------------------------------------------------

    async def send_call(
        self, method: str, params: dict[str, Any] | None = None, validate: bool = True
    ) -> tuple[int, asyncio.Future]:
        """Send a call without waiting for its answer: (request id, future of the result). `validate=False`
        skips the frame hook (a test sending what the schema refuses)."""
        if self.closed.is_set():
            raise ConnectionError("the connection to the agent is closed")
        self._ids += 1
        rid = self._ids
        msg = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        if validate:
            self._check_frame("out", msg, method)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (method, fut)
        await self.ws.send(json.dumps(msg, ensure_ascii=False))
        return rid, fut

    async def start(
        self, method: str, params: dict[str, Any] | None = None, validate: bool = True
    ) -> asyncio.Future:
        """Send a call; the future of its result."""
        return (await self.send_call(method, params, validate))[1]

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        fut = await self.start(method, params)
        return await asyncio.wait_for(fut, timeout_s)

    async def send_raw(self, text: str, expect_id: Any = None) -> asyncio.Future:
        """Send a text frame as it is (the schema may refuse it); its answer is awaited by `expect_id`, or
        arrives in `events` when it answers no call."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if expect_id is not None:
            self._pending[expect_id] = ("raw", fut)
        await self.ws.send(text)
        return fut

    async def upload(self, data: bytes, name: str | None = None, chunk: int = UPLOAD_CHUNK_BYTES) -> dict:
        """Send a document as binary frames; returns the docRef a call names it by."""
        return (await self._upload(data, name, chunk))[0]

    async def _upload(
        self, data: bytes, name: str | None = None, chunk: int = UPLOAD_CHUNK_BYTES, digest: bool = True
    ) -> tuple[dict[str, Any], SM3Hasher | None]:
        """upload(), and the SM3 state after the document's last byte (a result that begins with the
        document is then checked by hashing only what follows). The SM3 runs in a thread while the frames
        go out, one frame made at a time. Without `digest` the document is sent as the extension sends it:
        no SM3 in the docRef (it is optional), no state."""
        if not data:
            raise ValueError("an empty document cannot be uploaded")
        doc_id = secrets.token_hex(16)
        hashing = asyncio.ensure_future(asyncio.to_thread(SM3Hasher, data)) if digest else None
        try:
            for frame in proto.iter_chunks(proto.KIND_UPLOAD, doc_id, data, chunk):
                await self.ws.send(frame)
        finally:
            hasher = await hashing if hashing is not None else None
        ref: dict[str, Any] = {"id": doc_id, "size": len(data)}
        if hasher is not None:
            ref["sm3"] = hasher.hexdigest()
        if name:
            ref["name"] = name[:255]
        return ref, hasher

    @property
    def results(self) -> dict[str, list[memoryview]]:
        """Result documents received so far (id -> chunks), not yet taken by download()/result_bytes()."""
        return {doc_id: dl.parts for doc_id, dl in self._downloads.items() if dl.parts}

    def result_bytes(self, doc: dict[str, Any]) -> bytes:
        """The bytes of a result document that has fully arrived (its answer came after its last chunk)."""
        dl = self._downloads.pop(doc["id"], None)
        return self._checked(doc, dl.parts if dl else [])

    async def download(
        self,
        doc: dict[str, Any],
        timeout_s: float = DEFAULT_TIMEOUT,
        original: tuple[bytes, SM3Hasher] | None = None,
        digest: bool = True,
    ) -> bytes:
        """The bytes of a result document (docOut), checked against its size and SM3 (off the loop).
        `original`: the uploaded document and its SM3 state, for a result that begins with it. Without
        `digest`, checked as the extension checks it: chunk count and size."""
        dl = self._downloads.setdefault(doc["id"], _Download())
        await asyncio.wait_for(dl.done.wait(), timeout_s)
        self._downloads.pop(doc["id"], None)
        return await asyncio.to_thread(self._checked, doc, dl.parts, original, digest)

    @staticmethod
    def _checked(
        doc: dict[str, Any],
        parts: list[memoryview],
        original: tuple[bytes, SM3Hasher] | None = None,
        digest: bool = True,
    ) -> bytes:
        data = b"".join(parts)
        if len(parts) != doc.get("chunks", len(parts)) or len(data) != doc["size"]:
            raise AgentError({"data": {"code": "INTERNAL", "detail": "result document incomplete"}})
        if not digest:
            return data
        found = proto.sm3_of_result(data, *original) if original else sm3(data).hex()
        if found != doc["sm3"]:
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
        digests: bool = True,
    ) -> tuple[bytes, dict[str, Any]]:
        """Stamp: upload, `stamp`, answer the approval with `approve(request)` -> (seal_id, pin), and
        return (stamped bytes, stamp result). Errors come back as AgentError (e.g. SEAL_REVOKED).
        `digests=False` does what the extension does instead of hashing the upload and the result: the
        docRef carries no SM3 and the result is checked by its chunk count and size (the agent still
        hashes both, for the approval window and the audit log)."""
        ref, hasher = await self._upload(data, name, digest=digests)
        params: dict[str, Any] = {"origin": origin, "document": ref, "placements": placements}
        if seal_id:
            params["seal_id"] = seal_id
        if options:
            params["options"] = options
        call_id, fut = await self.send_call("stamp", params)
        try:
            res = await self._approve_and_wait(call_id, fut, approve, timeout_s)
        finally:
            if not fut.done():  # given up on (an error or a cancellation here): never left dangling
                self._pending.pop(call_id, None)
                fut.cancel()
        original = (data, hasher) if hasher is not None else None
        out = await self.download(res["document"], original=original, digest=digests)
        return out, res

    async def _approve_and_wait(
        self, call_id: int, fut: asyncio.Future, approve: Approver, timeout_s: float
    ) -> dict[str, Any]:
        """Wait for the stamp's approval.required (or an early answer), answer it, then await the result."""
        approval = asyncio.create_task(
            self.next_event("approval.required", timeout_s, lambda p: p.get("call_id") == call_id)
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
