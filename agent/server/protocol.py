"""Protocol v1 wire format: JSON-RPC 2.0 text frames checked against the schema, and document binary frames.

Text frames are validated in two steps so errors are precise: the envelope (jsonrpc/id/method/params, no
other keys), then the method's params against `$defs/params.<method>` (exact keys, types, lengths, enums).

Binary frame = 25-byte header + payload:
    magic "SB" | version 0x01 | kind (0x01 upload chunk, 0x02 result chunk) | document id (16 bytes)
    | chunk index (uint32, big endian, from 0) | flags (bit 0: last chunk)
Uploads are reassembled in order per document id, with caps on the total size, the chunk size and the
chunk count; the JSON call that uses the document names it by id (32 hex chars) and its size.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from formats.errors import SealBridgeError
from formats.gm import SM3Hasher

PROTOCOL_VERSION = 1
MAGIC = b"SB"
FRAME_VERSION = 1
KIND_UPLOAD = 1
KIND_RESULT = 2
FLAG_LAST = 1
RESULT_CHUNK_BYTES = 1024 * 1024  # the payload of each result frame the agent sends
HEADER = struct.Struct(">2sBB16sIB")
HEADER_SIZE = HEADER.size  # 25

# JSON-RPC error numbers
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
APP_ERROR = -32000

ENVELOPE_KEYS = {"jsonrpc", "id", "method", "params"}
MAX_ID = 2**53 - 1  # exact in JavaScript numbers; the schema says the same


@cache
def load_schema() -> dict[str, Any]:
    """The schema ships as package data (agent/server/protocol.schema.json); docs/ holds an identical copy."""
    text = resources.files("agent.server").joinpath("protocol.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(def_name: str | None = None) -> Draft202012Validator:
    schema = load_schema()
    if def_name is not None:
        schema = {**schema, "oneOf": None, "$ref": f"#/$defs/{def_name}"}
        schema.pop("oneOf")
    return Draft202012Validator(schema, format_checker=None)


def methods() -> set[str]:
    return {k.removeprefix("params.") for k in load_schema()["$defs"] if k.startswith("params.")}


def validate_def(def_name: str, instance: Any) -> None:
    """Raise jsonschema.ValidationError when `instance` does not match `$defs/<def_name>`."""
    _validator(def_name).validate(instance)


def validate_message(instance: Any) -> None:
    """The whole-schema check the tests apply to every frame either way."""
    _validator(None).validate(instance)


#: Params whose values are secrets: a schema error names the field and the rule, never the value (jsonschema's
#: messages quote the instance, e.g. "'<the PIN>' is too long").
SECRET_FIELDS = frozenset({"pin", "old_pin", "new_pin", "mac"})


def _describe(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "(top)"
    msg = err.message
    if SECRET_FIELDS & {str(p) for p in err.absolute_path} or (
        not err.absolute_path and isinstance(err.instance, dict) and SECRET_FIELDS & set(err.instance)
    ):
        msg = f"fails the schema rule {err.validator!r}"
        if err.validator in ("required", "additionalProperties"):
            msg = err.message  # these messages name keys only, never values
    if len(msg) > 300:
        msg = msg[:300] + "…"
    return f"{where}: {msg}"


class RpcError(Exception):
    """A JSON-RPC error to send back: a JSON-RPC number plus the SealBridge error object."""

    def __init__(self, number: int, err: SealBridgeError, request_id: Any = None):
        super().__init__(err.code)
        self.number = number
        self.err = err
        self.request_id = request_id


@dataclass
class Request:
    id: int | str
    method: str
    params: dict[str, Any]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Strict JSON: a key given twice could mean one thing to the schema and another to the code."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_request(text: str, max_bytes: int) -> Request:
    if len(text) > max_bytes or len(text.encode("utf-8")) > max_bytes:
        raise RpcError(
            INVALID_REQUEST, SealBridgeError("DOC_TOO_LARGE", f"text frame over {max_bytes} bytes")
        )
    try:
        msg = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise RpcError(PARSE_ERROR, SealBridgeError("BAD_REQUEST", f"not JSON: {why}")) from None
    if not isinstance(msg, dict):
        raise RpcError(INVALID_REQUEST, SealBridgeError("BAD_REQUEST", "a request must be a JSON object"))
    rid = msg.get("id")
    good_id = (isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid <= MAX_ID) or (
        isinstance(rid, str) and 0 < len(rid) <= 64
    )
    if not good_id:
        rid = None
    extra = set(msg) - ENVELOPE_KEYS
    if (
        extra
        or msg.get("jsonrpc") != "2.0"
        or rid is None
        or not isinstance(msg.get("method"), str)
        or "params" not in msg
    ):
        why = (
            f"unexpected keys {sorted(extra)}" if extra else "needs jsonrpc '2.0', an id, a method and params"
        )
        raise RpcError(INVALID_REQUEST, SealBridgeError("BAD_REQUEST", why), rid)
    method = msg["method"]
    if method not in methods():
        raise RpcError(
            METHOD_NOT_FOUND, SealBridgeError("BAD_REQUEST", f"unknown method {method[:60]!r}"), rid
        )
    params = msg["params"]
    try:
        validate_def(f"params.{method}", params)
    except jsonschema.ValidationError as exc:
        raise RpcError(INVALID_PARAMS, SealBridgeError("BAD_REQUEST", _describe(exc)), rid) from None
    return Request(rid, method, params)


def response(request_id: Any, result: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}, ensure_ascii=False)


@cache
def _error_data_keys() -> frozenset[str]:
    return frozenset(load_schema()["$defs"]["errorData"]["properties"])


def error_data(err: SealBridgeError) -> dict[str, Any]:
    """The error object, limited to the documented keys (extras from deep layers stay server-side)."""
    data = err.to_dict()
    if isinstance(data.get("detail"), str) and len(data["detail"]) > 2000:
        data["detail"] = data["detail"][:1990] + "…"
    return {k: v for k, v in data.items() if k in _error_data_keys()}


def error_response(request_id: Any, number: int, err: SealBridgeError) -> str:
    body = {"code": number, "message": err.message_en, "data": error_data(err)}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": body}, ensure_ascii=False)


def event(method: str, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}, ensure_ascii=False)


# -- binary frames ----------------------------------------------------------------------------------------


@dataclass
class ChunkHeader:
    kind: int
    doc_id: str  # 32 hex chars
    index: int
    last: bool


def pack_chunk(kind: int, doc_id: str, index: int, last: bool, payload: bytes) -> bytes:
    return (
        HEADER.pack(MAGIC, FRAME_VERSION, kind, bytes.fromhex(doc_id), index, FLAG_LAST if last else 0)
        + payload
    )


def unpack_chunk(frame: bytes) -> tuple[ChunkHeader, memoryview]:
    if len(frame) < HEADER_SIZE:
        raise SealBridgeError("BAD_REQUEST", f"binary frame shorter than its {HEADER_SIZE}-byte header")
    magic, version, kind, raw_id, index, flags = HEADER.unpack_from(frame)
    if magic != MAGIC or version != FRAME_VERSION:
        raise SealBridgeError("BAD_REQUEST", "binary frame has a bad magic or version")
    if kind != KIND_UPLOAD:
        raise SealBridgeError("BAD_REQUEST", f"binary frame kind {kind} cannot be sent to the agent")
    if flags & ~FLAG_LAST:
        raise SealBridgeError("BAD_REQUEST", "binary frame has unknown flags")
    return ChunkHeader(kind, raw_id.hex(), index, bool(flags & FLAG_LAST)), memoryview(frame)[HEADER_SIZE:]


def split_chunks(kind: int, doc_id: str, data: bytes, chunk_bytes: int) -> list[bytes | bytearray]:
    return list(iter_chunks(kind, doc_id, data, chunk_bytes))


class ChunkedOutput(io.RawIOBase):
    """A write-only sink for a stamper that writes front to back: the output is kept as the chunks it is
    sent in, so it is never one growing buffer (no reallocation copies), never copied whole, and each chunk
    becomes one result frame. Each chunk keeps HEADER_SIZE bytes free in front, where iter_chunks writes
    its frame header: the chunk is then sent as it is, not copied into a frame."""

    def __init__(self, chunk_bytes: int) -> None:
        super().__init__()
        self.chunk_bytes = chunk_bytes
        self.chunks: list[bytearray] = []  # each: HEADER_SIZE bytes for the header, then the output's bytes
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        pos, n = 0, len(view)
        full = HEADER_SIZE + self.chunk_bytes
        while pos < n:
            if not self.chunks or len(self.chunks[-1]) >= full:
                self.chunks.append(bytearray(HEADER_SIZE))
            last = self.chunks[-1]
            take = min(full - len(last), n - pos)
            last += view[pos : pos + take]
            pos += take
        self.size += n
        return n

    def payloads(self) -> Iterator[memoryview]:
        """The output's bytes, chunk by chunk (views: nothing copied)."""
        for chunk in self.chunks:
            yield memoryview(chunk)[HEADER_SIZE:]

    def sm3(self) -> str:
        hasher = SM3Hasher()
        for payload in self.payloads():
            hasher.update(payload)
        return hasher.hexdigest()

    def getvalue(self) -> bytes:
        """The whole output as one bytes object (a copy: for callers that need one, not for sending)."""
        return b"".join(self.payloads())


def iter_chunks(kind: int, doc_id: str, data: Any, chunk_bytes: int) -> Iterator[bytes | bytearray]:
    """The frames of a document, made one at a time: a ChunkedOutput's chunks get their header written in
    front and are sent as they are; anything else is copied one payload at a time into its frame, so a
    sender holds one frame beside the document, never a second copy of it."""
    if isinstance(data, ChunkedOutput) and data.chunk_bytes == chunk_bytes and data.chunks:
        raw_id = bytes.fromhex(doc_id)
        for i, chunk in enumerate(data.chunks):
            last = i == len(data.chunks) - 1
            HEADER.pack_into(chunk, 0, MAGIC, FRAME_VERSION, kind, raw_id, i, FLAG_LAST if last else 0)
            yield chunk
        return
    if isinstance(data, ChunkedOutput):
        data = data.getvalue()
    view = memoryview(data).cast("B")
    n = max(1, -(-len(view) // chunk_bytes))
    for i in range(n):
        head = HEADER.pack(
            MAGIC, FRAME_VERSION, kind, bytes.fromhex(doc_id), i, FLAG_LAST if i == n - 1 else 0
        )
        yield b"".join((head, view[i * chunk_bytes : (i + 1) * chunk_bytes]))


@dataclass
class Upload:
    doc_id: str
    # Views into the received frames (no copy); the document becomes contiguous once, when a call takes it.
    parts: list[memoryview] = field(default_factory=list)
    size: int = 0
    last_received: bool = False
    complete: bool = False  # the last chunk arrived and every chunk is hashed
    error: SealBridgeError | None = None
    hasher: SM3Hasher = field(default_factory=SM3Hasher)
    hashing: asyncio.Future[None] | None = None  # the newest hash job (jobs of one upload run in order)


@dataclass
class PendingChunk:
    """A chunk stored but not yet hashed; the upload completes (if it was the last) once it is hashed."""

    upload: Upload
    payload: memoryview
    last: bool

    def hash_and_finish(self) -> None:
        if self.upload.error is not None:
            return  # a failed upload is never used: its chunks need no hashing
        self.upload.hasher.update(self.payload)
        if self.upload.error is None:
            self.upload.complete = self.last


@dataclass
class TakenUpload:
    """A finished upload handed to the call that named it: its chunks, its SM3, and the SM3 state after its
    last byte (a result that starts with these bytes — a PDF incremental update — is hashed from there).

    Taken with `Reassembler.take_arrived` its last chunk has arrived but its hashing may still run: `sm3`
    and `hasher` are set by `await hashed()`, which also refuses it when the docRef named another SM3."""

    parts: list[memoryview]
    size: int
    sm3: str
    hasher: SM3Hasher
    _upload: Upload | None = field(default=None, repr=False)  # until hashed(): the upload being hashed
    _declared_sm3: str | None = None
    _in_use: UploadBudget | None = field(default=None, repr=False)  # holds `size` there until release()

    def release(self) -> None:
        """The call is done with the document: its bytes leave the in-use budget (once; later calls are
        no-ops). Every taker calls it when it ends, however it ends."""
        budget, self._in_use = self._in_use, None
        if budget is not None:
            budget.used -= self.size

    async def hashed(self) -> TakenUpload:
        """Wait until every chunk is hashed (usually at once: they are hashed as they arrive)."""
        up, self._upload = self._upload, None
        if up is None:
            return self
        try:
            if up.hashing is not None and not up.complete:
                await asyncio.shield(up.hashing)  # the newest job: the ones before it ran first
            if not up.complete:
                raise SealBridgeError("BAD_REQUEST", f"document {up.doc_id} is incomplete (not hashed)")
            self.hasher = up.hasher
            self.sm3 = up.hasher.hexdigest()
            if self._declared_sm3 is not None and self._declared_sm3 != self.sm3:
                raise SealBridgeError("BAD_REQUEST", "document SM3 does not match the call")
        except BaseException:
            self.release()  # refused (or the call was cancelled): no call will use these bytes
            raise
        return self

    def join(self) -> bytes:
        """The document as one bytes object: the one copy, of exactly the checked size (run it off the loop).
        The received frames are let go: from here on the document is held once."""
        data = (
            self.parts[0].obj
            if len(self.parts) == 1 and _whole_bytes(self.parts[0])
            else b"".join(self.parts)
        )
        self.parts = [memoryview(data)]
        return data

    def digest_of_result(self, result: bytes) -> str:
        return sm3_of_result(result, self.parts, self.hasher)


def sm3_of_result(result: bytes, original: list[memoryview] | bytes, state: SM3Hasher) -> str:
    """SM3 of `result`. When it begins with the original document (compared with memcmp) — a PDF's
    incremental update does — only the rest is hashed, continuing from `state`, the original's SM3 state:
    the same digest as hashing every byte, for a fraction of the work."""
    parts = [original] if isinstance(original, bytes | bytearray | memoryview) else original
    pos = 0
    for part in parts:
        if not result.startswith(part, pos):
            return SM3Hasher(result).hexdigest()
        pos += len(part)
    hasher = state.copy()
    hasher.update(memoryview(result)[pos:])
    return hasher.hexdigest()


def _whole_bytes(view: memoryview) -> bool:
    return isinstance(view.obj, bytes) and len(view.obj) == view.nbytes


class UploadBudget:
    """Bytes held by unconsumed uploads across every connection, so opening more connections does not
    multiply the per-connection cap. Shared by the sessions of one agent (all on the event loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class Reassembler:
    """Per-connection upload state. Chunks of one document arrive in order (WebSocket is ordered)."""

    MAX_FAILED_KEPT = 64  # failed uploads remembered (without bytes) so the call naming them gets the reason

    def __init__(
        self,
        max_document_bytes: int,
        max_chunks: int,
        max_chunk_bytes: int,
        max_pending: int,
        max_pending_bytes: int | None = None,
        budget: UploadBudget | None = None,
        in_use: UploadBudget | None = None,
    ):
        self.max_document_bytes = max_document_bytes
        self.max_pending_bytes = max_pending_bytes or 2 * max_document_bytes
        self.max_chunks = max_chunks
        self.max_chunk_bytes = max_chunk_bytes
        self.max_pending = max_pending
        self.uploads: dict[str, Upload] = {}
        self._pending_total = 0  # bytes held by unconsumed uploads (kept in step with Upload.size)
        self.budget = budget or UploadBudget(self.max_pending_bytes)
        # Documents taken by calls that still run: no longer pending, still in memory.
        self.in_use = in_use or UploadBudget(2 * self.max_pending_bytes)

    def feed(self, frame: bytes) -> tuple[str | None, SealBridgeError | None]:
        """Take one binary frame. Returns (doc id, error) — the error only the first time a document fails."""
        doc_id, err, pending = self.accept(frame)
        if pending is not None:
            pending.hash_and_finish()
        return doc_id, err

    def accept(self, frame: bytes) -> tuple[str | None, SealBridgeError | None, PendingChunk | None]:
        """feed() without the hashing: the caller runs `pending.hash_and_finish()` (off the event loop — SM3
        of a 4 MiB chunk takes ~25 ms) before it takes the next frame. Until then the upload is not
        complete, so no call can take it half-hashed."""
        try:
            head, payload = unpack_chunk(frame)
        except SealBridgeError as err:
            return None, err, None
        up = self.uploads.get(head.doc_id)
        if up is None:
            if head.index != 0:
                return (
                    head.doc_id,
                    SealBridgeError("BAD_REQUEST", f"document {head.doc_id} must start at chunk 0"),
                    None,
                )
            up = self.uploads[head.doc_id] = Upload(head.doc_id)
            self._forget_old_failures()
            if sum(1 for u in self.uploads.values() if u.error is None) > self.max_pending:
                return self._failed(
                    up, SealBridgeError("DOC_TOO_LARGE", f"more than {self.max_pending} documents pending")
                )
        if up.error is not None:
            return head.doc_id, None, None  # already reported; drop the rest quietly
        if up.last_received:
            return self._failed(up, SealBridgeError("BAD_REQUEST", "chunk after the last chunk"))
        if head.index != len(up.parts):
            return self._failed(up, SealBridgeError("BAD_REQUEST", f"chunk {head.index} out of order"))
        if len(payload) > self.max_chunk_bytes:
            return self._failed(
                up, SealBridgeError("DOC_TOO_LARGE", f"chunk over {self.max_chunk_bytes} bytes")
            )
        if head.index + 1 > self.max_chunks:
            return self._failed(up, SealBridgeError("DOC_TOO_LARGE", f"more than {self.max_chunks} chunks"))
        if up.size + len(payload) > self.max_document_bytes:
            return self._failed(
                up, SealBridgeError("DOC_TOO_LARGE", f"document over {self.max_document_bytes} bytes")
            )
        if self._pending_total + len(payload) > self.max_pending_bytes:
            return self._failed(
                up,
                SealBridgeError(
                    "DOC_TOO_LARGE", f"uploads pending on this connection over {self.max_pending_bytes} bytes"
                ),
            )
        if self.budget.used + len(payload) > self.budget.limit:
            return self._failed(
                up,
                SealBridgeError(
                    "DOC_TOO_LARGE", f"uploads pending on all connections over {self.budget.limit} bytes"
                ),
            )
        up.parts.append(payload)  # a view into the frame: kept, not copied
        up.size += len(payload)
        up.last_received = head.last
        self._add_pending(len(payload))
        return head.doc_id, None, PendingChunk(up, payload, head.last)

    def _failed(self, up: Upload, err: SealBridgeError) -> tuple[str, SealBridgeError, None]:
        return (*self._fail(up, err), None)

    def _fail(self, up: Upload, err: SealBridgeError) -> tuple[str, SealBridgeError]:
        up.error = err
        up.parts.clear()
        self._add_pending(-up.size)
        up.size = 0
        return up.doc_id, err

    def _forget_old_failures(self) -> None:
        failed = [k for k, u in self.uploads.items() if u.error is not None]
        for key in failed[: max(0, len(failed) - self.MAX_FAILED_KEPT)]:
            del self.uploads[key]

    def take(self, ref: dict[str, Any]) -> tuple[bytes, str]:
        """Hand over a finished, already hashed upload (feed() hashes inline) named by a docRef
        ({id,size,sm3?}); returns (bytes, sm3 hex). The upload is consumed either way, so a document is used
        by one call only."""
        up = self._pop(ref)
        if not up.complete:
            raise SealBridgeError("BAD_REQUEST", f"document {ref['id']} is incomplete (not hashed yet)")
        taken = self._handover(up, ref)
        return taken.join(), taken.sm3

    async def take_hashed(self, ref: dict[str, Any]) -> TakenUpload:
        """Hand over an upload whose last chunk arrived, once its chunks are hashed (they are hashed off the
        loop as they arrive, so usually at once). Consumed either way, like take()."""
        return await self.take_arrived(ref).hashed()

    def take_arrived(self, ref: dict[str, Any]) -> TakenUpload:
        """Hand over an upload whose last chunk arrived, while its last chunks may still be hashing: the
        caller can join and read it meanwhile, and must `await hashed()` before it uses its SM3 or acts
        on it. The SM3 of a large upload ends after its last frame (SM3 is slower than loopback), so
        this takes that wait off the call's path. Consumed either way, like take()."""
        up = self._pop(ref)
        parts, up.parts = up.parts, []
        if self.in_use.used + up.size > self.in_use.limit:
            raise SealBridgeError(
                "RATE_LIMITED", f"documents in use by running calls over {self.in_use.limit} bytes; try again"
            )
        self.in_use.used += up.size
        return TakenUpload(parts, up.size, "", up.hasher, up, ref.get("sm3"), _in_use=self.in_use)

    def discard(self, ref: dict[str, Any]) -> None:
        """Consume an upload without using it (a refused call still frees its bytes at once)."""
        up = self.uploads.pop(ref["id"], None)
        if up is not None:
            self._add_pending(-up.size)
            up.parts = []

    def _pop(self, ref: dict[str, Any]) -> Upload:
        """Remove the upload (its bytes leave the pending count now, whatever follows) and check that it is
        whole and of the declared size."""
        up = self.uploads.pop(ref["id"], None)
        if up is None:
            raise SealBridgeError("BAD_REQUEST", f"no uploaded document {ref['id']}")
        self._add_pending(-up.size)  # consumed (or refused below): no longer pending either way
        parts, up.parts = up.parts, []  # a refused upload keeps no bytes
        if up.error is not None:
            raise up.error
        if not up.last_received:
            raise SealBridgeError("BAD_REQUEST", f"document {ref['id']} is incomplete (no last chunk yet)")
        if up.size != ref["size"]:
            raise SealBridgeError("BAD_REQUEST", f"document size is {up.size}, the call says {ref['size']}")
        up.parts = parts
        return up

    @staticmethod
    def _handover(up: Upload, ref: dict[str, Any]) -> TakenUpload:
        digest = up.hasher.hexdigest()
        parts, up.parts = up.parts, []
        if "sm3" in ref and ref["sm3"] != digest:
            raise SealBridgeError("BAD_REQUEST", "document SM3 does not match the call")
        return TakenUpload(parts, up.size, digest, up.hasher)

    def _add_pending(self, n: int) -> None:
        self._pending_total += n
        self.budget.used += n

    def pending_bytes(self) -> int:
        return self._pending_total

    def clear(self) -> None:
        """Drop every upload and hand their bytes back to the shared budget (the connection closed)."""
        self.uploads.clear()
        self._add_pending(-self._pending_total)
