"""One WebSocket connection: the HMAC challenge, then JSON-RPC calls and document uploads.

Until `auth` succeeds nothing else is accepted: any other frame (text or binary), a wrong proof or a
silent client ends the connection with UNAUTHENTICATED (close code 4401). After that each call runs as its
own task, so `approve` and `cancel` can arrive while a `stamp` waits for them; a bounded number of calls
may run at once. Errors in one call never end the connection; only protocol-level abuse does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from agent import __version__
from agent.server import protocol as proto
from agent.server.heap import KEEPALIVE_CALLS
from agent.server.logs import log_event
from agent.server.security import new_nonce, server_proof, verify_client_proof
from formats.errors import SealBridgeError
from formats.gm import sm3

if TYPE_CHECKING:
    from agent.server.context import AgentContext

CLOSE_UNAUTHENTICATED = 4401
RESULT_CHUNK_BYTES = proto.RESULT_CHUNK_BYTES


class Session:
    def __init__(self, ctx: AgentContext, ws: web.WebSocketResponse, ext_origin: str):
        self.ctx = ctx
        self.ws = ws
        self.ext_origin = ext_origin
        self.id = secrets.token_hex(16)
        self.authenticated = False
        lim = ctx.cfg.limits
        self.uploads = proto.Reassembler(
            lim.max_document_bytes,
            lim.max_chunks,
            lim.max_chunk_bytes,
            lim.max_pending_documents,
            lim.max_pending_bytes,
            ctx.upload_budget,
            ctx.in_use_budget,
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self._send_lock = asyncio.Lock()
        # Uploads are hashed on this one thread as their chunks arrive, in arrival order (so the chunks of a
        # document reach its SM3 in order), while the loop goes on receiving: SM3 releases the GIL.
        self._hash_thread: ThreadPoolExecutor | None = None
        # The hash jobs not yet done, with their chunk's size: frames arrive faster than SM3 hashes them,
        # and a queued job keeps its chunk alive even once the upload failed or a call took it.
        self._hashing: collections.deque[tuple[asyncio.Future[None], int]] = collections.deque()
        self._queued_bytes = 0  # the sizes in _hashing, kept with its two changes (append, popleft)

    # -- sending ----------------------------------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(text)

    async def send_event(self, method: str, params: dict[str, Any]) -> None:
        await self._send_text(proto.event(method, params))

    async def send_error(self, request_id: Any, number: int, err: SealBridgeError) -> None:
        await self._send_text(proto.error_response(request_id, number, err))

    async def send_document(
        self, data: bytes | proto.ChunkedOutput, fmt: str, digest_hex: str | None = None
    ) -> dict[str, Any]:
        """Send result bytes as binary frames (before the JSON answer that names them), one frame made at a
        time from a view of `data`. Without a digest, SM3 runs in a thread while the frames go out."""
        doc_id = secrets.token_hex(16)
        size = data.size if isinstance(data, proto.ChunkedOutput) else len(data)
        hashing = None
        if digest_hex is None:
            digest = data.sm3 if isinstance(data, proto.ChunkedOutput) else lambda: sm3(data).hex()
            hashing = asyncio.ensure_future(asyncio.to_thread(digest))
        chunks = 0
        try:
            async with self._send_lock:
                for frame in proto.iter_chunks(proto.KIND_RESULT, doc_id, data, RESULT_CHUNK_BYTES):
                    if self.ws.closed:
                        raise SealBridgeError("CONFLICT", "the connection closed while sending the result")
                    await self.ws.send_bytes(frame)
                    chunks += 1
        finally:
            if hashing is not None:
                digest_hex = await hashing
        return {"id": doc_id, "size": size, "sm3": digest_hex, "chunks": chunks, "format": fmt}

    # -- the connection ---------------------------------------------------------------------------------------

    async def run(self) -> None:
        self.ctx.sessions.add(self)
        try:
            if await self._authenticate():
                await self._serve()
        finally:
            self.ctx.sessions.discard(self)
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            self.uploads.clear()
            self.ctx.idle_trim.note_activity()  # what the connection held is free now: give it back when idle
            if self._hash_thread is not None:
                self._hash_thread.shutdown(wait=False, cancel_futures=True)

    async def _refuse(self, request_id: Any, detail: str) -> bool:
        log_event("auth_refused", logging.WARNING, origin=self.ext_origin, why=detail)
        await self.send_error(request_id, proto.APP_ERROR, SealBridgeError("UNAUTHENTICATED", detail))
        await self.ws.close(code=CLOSE_UNAUTHENTICATED, message=b"unauthenticated")
        return False

    async def _authenticate(self) -> bool:
        nonce = new_nonce()
        await self.send_event(
            "auth.challenge",
            {"nonce": nonce.hex(), "protocol": proto.PROTOCOL_VERSION, "version": __version__},
        )
        try:
            # One deadline for the whole wait: aiohttp answers pings inside receive() and restarts its own
            # per-read timeout on each, so a client sending pings alone would otherwise stay forever.
            async with asyncio.timeout(self.ctx.cfg.limits.auth_timeout_s):
                msg = await self.ws.receive()
        except TimeoutError:
            return await self._refuse(None, "no auth call in time")
        if msg.type != WSMsgType.TEXT:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return False
            return await self._refuse(None, "the first message must be the auth call")
        try:
            req = proto.parse_request(msg.data, self.ctx.cfg.limits.max_text_bytes)
        except proto.RpcError as exc:
            return await self._refuse(
                exc.request_id, f"the first message must be a valid auth call ({exc.err.detail})"
            )
        if req.method != "auth":
            return await self._refuse(req.id, "call auth first")
        client_nonce = bytes.fromhex(req.params["client_nonce"])
        if not verify_client_proof(self.ctx.secret, nonce, client_nonce, self.ext_origin, req.params["mac"]):
            return await self._refuse(req.id, "wrong pairing proof; pair the extension again")
        self.authenticated = True
        proof = server_proof(self.ctx.secret, nonce, client_nonce, self.ext_origin)
        await self._send_text(proto.response(req.id, {"server_mac": proof, "session": self.id}))
        log_event("session_open", origin=self.ext_origin, session=self.id)
        return True

    async def _serve(self) -> None:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                await self._on_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await self._on_binary(msg.data)
            elif msg.type == WSMsgType.ERROR:
                log_event("ws_error", logging.WARNING, session=self.id, why=str(self.ws.exception()))
                break
        log_event("session_closed", session=self.id, code=self.ws.close_code)

    async def _on_binary(self, frame: bytes) -> None:
        self.ctx.idle_trim.note_activity()
        doc_id, err, pending = self.uploads.accept(frame)
        if pending is not None:
            job = asyncio.get_running_loop().run_in_executor(self.hash_executor(), pending.hash_and_finish)
            job.add_done_callback(_retrieve)  # awaited by the call taking the upload, if any call does
            pending.upload.hashing = job
            self._hashing.append((job, len(pending.payload)))
            self._queued_bytes += len(pending.payload)
        if err is not None:
            params = {"id": doc_id or "0" * 32, "error": proto.error_data(err)}
            await self.send_event("document.rejected", params)
        await self._keep_up_with_hashing()

    @property
    def unhashed_bytes(self) -> int:
        """Bytes this connection received and has not hashed yet (bounded by limits.max_unhashed_bytes,
        plus the frame being read)."""
        finished = 0
        for job, size in self._hashing:  # one thread hashes them in arrival order: the done ones lead
            if not job.done():
                break
            finished += size
        return self._queued_bytes - finished

    async def _keep_up_with_hashing(self) -> None:
        """Read no further frame while more than max_unhashed_bytes wait for their SM3: what this connection
        holds beyond its pending uploads (chunks of failed or already taken uploads, still queued) stays
        bounded, and a fast sender is slowed to the speed of hashing (the socket's buffers fill)."""
        limit = self.ctx.cfg.limits.max_unhashed_bytes
        # With the finished jobs at the front popped, what is queued is what waits: no sum per frame.
        while self._hashing and (self._hashing[0][0].done() or self._queued_bytes > limit):
            job, size = self._hashing[0]
            if not job.done():
                await asyncio.wait([job])  # its outcome is the upload's: _retrieve and the taking call see it
            self._hashing.popleft()
            self._queued_bytes -= size

    def hash_executor(self) -> ThreadPoolExecutor:
        """The connection's one upload-hashing thread (jobs run in arrival order)."""
        if self._hash_thread is None:
            self._hash_thread = ThreadPoolExecutor(1, thread_name_prefix="sealbridge-upload-sm3")
        return self._hash_thread

    async def _on_text(self, text: str) -> None:
        try:
            req = proto.parse_request(text, self.ctx.cfg.limits.max_text_bytes)
        except proto.RpcError as exc:
            await self.send_error(exc.request_id, exc.number, exc.err)
            return
        if req.method == "auth":
            await self.send_error(
                req.id, proto.INVALID_REQUEST, SealBridgeError("CONFLICT", "already authenticated")
            )
            return
        if len(self.tasks) >= self.ctx.cfg.limits.max_inflight_calls:
            await self.send_error(
                req.id, proto.APP_ERROR, SealBridgeError("RATE_LIMITED", "too many calls in flight")
            )
            return
        task = asyncio.create_task(self._call(req))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if req.method not in KEEPALIVE_CALLS:  # the extension's keepalive does not keep memory in use
            self.ctx.idle_trim.call_started()
            task.add_done_callback(lambda _: self.ctx.idle_trim.call_ended())

    async def _call(self, req: proto.Request) -> None:
        try:
            from agent.server.methods import HANDLERS  # imported by serve() already; here for tests' apps

            result = await HANDLERS[req.method](self, req)
        except SealBridgeError as err:
            await self.send_error(req.id, proto.APP_ERROR, err)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: answer INTERNAL, keep the connection, log without payloads
            log_event(
                "internal_error", logging.ERROR, method=req.method, error=type(exc).__name__, why=str(exc)
            )
            logging.getLogger("sealbridge.agent").debug("internal error", exc_info=True)
            await self.send_error(req.id, proto.APP_ERROR, SealBridgeError("INTERNAL", type(exc).__name__))
            return
        await self._send_text(proto.response(req.id, result))


def _retrieve(job: asyncio.Future[None]) -> None:
    """Mark a hash job's outcome as seen: an upload nobody takes must not log 'exception never retrieved'."""
    if not job.cancelled():
        job.exception()
