"""stamp.batch: many documents, one approval window, one PIN, results per document as they finish.

stamp.batch → site policy → rate limit (once) → each document taken, sniffed, counted and its placements
parsed; a document that fails here is shown failed in the window and skipped, the others go on → one
approval (`batch.approval.required`; `approve` is refused with BATCH_NOT_REVIEWED until every ticked
document's preview has been rendered) → platform status once per seal → one token login → the documents
one after another on the token's worker thread, each answered by its result bytes and a `batch.document`
event, each audited as a `stamp` record → the batch manifest signed by the same key → one `batch` record.

`cancel` during signing stops the batch: the document on the token finishes, every later one is recorded
as cancelled. The check sits on the token thread, right before a document is stamped, so nothing queued
behind a cancel is ever signed.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.batch_manifest import MANIFEST_TYPE, MANIFEST_VERSION, canonical, sign_manifest
from agent.server.approvals import Attempt, PendingApproval
from agent.server.logs import log_event
from agent.server.methods.basic import admit, drop_uploads, releasing_uploads
from agent.server.methods.stamp import (
    _await_approval,
    _report_usage,
    _signed_usage,
    _usage_base,
    release_left_signer,
    release_signer,
)
from agent.server.protocol import Request, TakenUpload, error_data, sm3_of_result
from agent.tsa_client import configured_timestamper, stamp_with_timestamp_policy
from formats.errors import SealBridgeError
from formats.gm import SM3Hasher, sm3
from stamping.documents import document_format, format_named
from stamping.options import Producer, StampOptions
from stamping.placement import from_dict

if TYPE_CHECKING:
    from agent.seal_store import SealEntry
    from agent.server.context import AgentContext
    from agent.server.session import Session

PREVIEWS_PER_DOCUMENT = 5  # the window pages through each document, and re-renders on a seal change


@dataclass
class BatchDoc:
    """One document of a batch, from upload to its result."""

    index: int
    name: str | None
    placements_raw: list[dict[str, Any]]
    seal_hint: str | None
    options: dict[str, Any]
    data: bytes = field(repr=False, default=b"")
    size: int = 0
    sm3_before: str | None = None
    sm3_state: SM3Hasher | None = field(repr=False, default=None)  # after the upload's last byte
    format: str | None = None
    page_count: int | None = None
    placements: list[Any] = field(default_factory=list)
    status: str = "ready"  # ready → stamped / failed / cancelled / excluded
    error: SealBridgeError | None = None
    shown: bool = False
    sm3_after: str | None = None
    usage: dict[str, Any] | None = field(repr=False, default=None)  # signed on the token thread
    seal_id: str | None = None
    cert_serial: str | None = None
    audit_seq: int | None = None
    audit_hash: str | None = None
    signature_ids: list[str] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    timestamp: str | None = None  # tsa / none / skipped, as for a single stamp

    def fail(self, err: SealBridgeError, status: str = "failed") -> None:
        self.status, self.error, self.data = status, err, b""

    def info(self) -> dict[str, Any]:
        """What the approval window lists."""
        out: dict[str, Any] = {
            "index": self.index,
            "name": self.name,
            "size": self.size,
            "sm3": self.sm3_before,
            "format": self.format,
            "page_count": self.page_count,
            "placements": self.placements_raw,
            "seal_id": self.seal_hint,
            "status": "ready" if self.status == "ready" else "failed",
        }
        if self.error is not None:
            out["error"] = error_data(self.error)
        return out

    def outcome(self) -> dict[str, Any]:
        """The document's line in the answer and in the manifest."""
        out: dict[str, Any] = {
            "index": self.index,
            "name": self.name,
            "status": self.status,
            "sm3_before": self.sm3_before,
            "sm3_after": self.sm3_after,
        }
        if self.error is not None:
            out["error"] = error_data(self.error)
        if self.audit_seq is not None:
            out["audit_seq"] = self.audit_seq
        return out


@dataclass
class PendingBatch(PendingApproval):
    docs: list[BatchDoc] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "call_id": self.call_id,
            "origin": {"top": self.origin_top, "frame": self.origin_frame},
            "documents": [d.info() for d in self.docs],
            "seal_id": self.seal_hint,
            "site_policy": self.site_policy,
        }

    def _doc(self, index: int | None) -> BatchDoc:
        if index is None or not 0 <= index < len(self.docs):
            raise SealBridgeError(
                "BAD_REQUEST", f"a batch preview needs a document index 0–{len(self.docs) - 1}"
            )
        return self.docs[index]

    def preview_target(self, index: int | None) -> tuple[bytes, str, list[dict[str, Any]], str | None]:
        doc = self._doc(index)
        if doc.status != "ready" or doc.format is None:
            raise doc.error or SealBridgeError("DOC_MALFORMED", "this document could not be read")
        return doc.data, doc.format, doc.placements_raw, doc.seal_hint or self.seal_hint

    def mark_shown(self, index: int | None) -> None:
        self._doc(index).shown = True

    def cancel_running(self) -> str:
        # Read on the token thread before each document (a plain attribute: atomic under the GIL).
        self.cancelled = True
        return "cancelled"

    def check_attempt(self, att: Attempt) -> None:
        """The approval covers the ticked documents, and each of them must have been looked at."""
        ready = {d.index for d in self.docs if d.status == "ready"}
        include = set(att.include) if att.include is not None else ready
        if not include:
            raise SealBridgeError("BAD_REQUEST", "no document is ticked")
        if include - ready:
            raise SealBridgeError("BAD_REQUEST", f"documents {sorted(include - ready)} cannot be stamped")
        unseen = sorted(i for i in include if not self.docs[i].shown)
        if unseen:
            shown = ", ".join(str(i) for i in unseen[:20])
            raise SealBridgeError("BATCH_NOT_REVIEWED", f"documents not yet previewed: {shown}")
        for doc in self.docs:
            if doc.status == "ready" and doc.index not in include:
                doc.status = "excluded"  # unticked: never signed; the manifest says so
                doc.data = b""


async def _take_document(
    session: Session, item: dict[str, Any], doc: BatchDoc, held: list[TakenUpload]
) -> None:
    """Upload → bytes, format, pages, placements; a failure marks this document only."""
    limits = session.ctx.cfg.limits
    try:
        upload = await session.uploads.take_hashed(item["document"])
        held.append(upload)
        doc.sm3_before, doc.sm3_state = upload.sm3, upload.hasher
        doc.data = await asyncio.to_thread(upload.join)
        doc.size = len(doc.data)
        doc.format = (await asyncio.to_thread(document_format, doc.data)).name
        if len(item["placements"]) > limits.max_placements:
            raise SealBridgeError("PLACEMENT_INVALID", f"more than {limits.max_placements} placements")
        doc.placements = [from_dict(p) for p in item["placements"]]
        doc.page_count = await asyncio.to_thread(format_named(doc.format).page_count, doc.data)
        if doc.page_count is not None and doc.page_count > limits.max_pages:
            raise SealBridgeError("DOC_TOO_LARGE", f"{doc.page_count} pages; the limit is {limits.max_pages}")
    except SealBridgeError as err:
        doc.fail(err)
    except Exception as exc:  # a reader bug on one document must not end the others' batch
        doc.fail(_internal(exc, "read"))


def _internal(exc: Exception, stage: str) -> SealBridgeError:
    log_event("batch_document_failed", logging.ERROR, stage=stage, error=type(exc).__name__)
    return SealBridgeError("INTERNAL", type(exc).__name__)


@releasing_uploads
async def stamp_batch(session: Session, req: Request, held: list[TakenUpload]) -> dict[str, Any]:
    ctx = session.ctx
    params = req.params
    top, frame = params["origin"]["top"], params["origin"]["frame"]
    who = {"origin_top": top, "origin_frame": frame}
    items = params["documents"]
    try:
        await admit(session, params["origin"], "stamp.batch", [item["document"] for item in items])
        policy = "asks" if params["origin"].get("grant") == "once" else "allowed"
        if len(items) > ctx.cfg.limits.max_batch_documents:
            drop_uploads(session, [item["document"] for item in items])
            raise SealBridgeError(
                "DOC_TOO_LARGE",
                f"{len(items)} documents; a batch holds at most {ctx.cfg.limits.max_batch_documents}",
            )
        common = params.get("options", {})
        docs = [
            BatchDoc(
                i,
                item["document"].get("name"),
                item["placements"],
                item.get("seal_id"),
                {**common, **item.get("options", {})},
            )
            for i, item in enumerate(items)
        ]
        for item, doc in zip(items, docs, strict=True):
            await _take_document(session, item, doc, held)
        ready = [d for d in docs if d.status == "ready"]
        if not ready:
            raise docs[0].error or SealBridgeError("DOC_MALFORMED", "no document of the batch can be read")
        seals = await ctx.seals()
        approval = ctx.approvals.open(
            factory=PendingBatch,
            call_id=req.id,
            session_id=session.id,
            origin_top=top,
            origin_frame=frame,
            document={
                "name": None,
                "size": sum(d.size for d in docs),
                "sm3": None,
                "format": None,
                "page_count": None,
            },
            placements=[],
            seal_hint=params.get("seal_id"),
            site_policy=policy,
            candidates={s.seal_id for s in seals},
            docs=docs,
            max_previews=100 + PREVIEWS_PER_DOCUMENT * len(docs),
        )
    except SealBridgeError as err:
        if err.code != "ORIGIN_NOT_ALLOWED":
            await ctx.record(
                "refusal", err.code, detail={"call": "stamp.batch", "documents": len(items)}, **who
            )
        raise
    assert isinstance(approval, PendingBatch)
    return await _run_batch(session, approval, seals, who)


async def _run_batch(
    session: Session, approval: PendingBatch, seals: list[SealEntry], who: dict[str, str]
) -> dict[str, Any]:
    ctx = session.ctx
    entry: SealEntry | None = None
    try:
        await session.send_event(
            "batch.approval.required", approval.summary() | {"seals": [s.to_info(False) for s in seals]}
        )
        entry = await _await_approval(session, approval, approval.check_attempt)
        doc_seals = await _document_seals(ctx, approval, entry)
        await _stamp_documents(session, approval, entry, doc_seals, who)
        detail = await _signed_manifest(ctx, approval, entry)
    except SealBridgeError as err:
        outcome = "cancelled" if err.code == "USER_CANCELLED" else "failed"
        if entry is None:  # ended before the approval: nothing signed
            await session.send_event(
                "approval.closed", {"request_id": approval.request_id, "outcome": outcome}
            )
        release_left_signer(ctx, approval)
        ctx.approvals.close(approval)
        await _record_batch(ctx, approval, err.code, _manifest(approval, entry), entry, who)
        raise
    except asyncio.CancelledError:
        release_left_signer(ctx, approval)
        ctx.approvals.close(approval)
        manifest = _manifest(approval, entry) | {"why": "connection closed"}
        await _record_batch(ctx, approval, "USER_CANCELLED", manifest, entry, who)
        raise
    except Exception:  # a bug: the site's approval slot and the token login must not stay taken
        release_left_signer(ctx, approval)
        ctx.approvals.close(approval)
        await _record_batch(ctx, approval, "INTERNAL", _manifest(approval, entry), entry, who)
        raise
    ctx.approvals.close(approval)
    statuses = {d.status for d in approval.docs}
    result = (
        "USER_CANCELLED"
        if approval.cancelled
        else ("OK" if statuses <= {"stamped", "excluded"} else "PARTIAL")
    )
    seq = await _record_batch(ctx, approval, result, detail, entry, who)
    return {
        "batch_id": approval.request_id,
        "audit_seq": seq,
        "manifest_sm3": sm3(canonical(detail["manifest"])).hex(),
        "documents": [d.outcome() for d in approval.docs],
    }


async def _document_seals(
    ctx: AgentContext, approval: PendingBatch, entry: SealEntry
) -> dict[int, SealEntry]:
    """The seal of each ticked document: its own where the page asked for one, else the approved seal.
    Each seal's platform status is asked once; a seal of another key than the one logged in fails its
    documents (one login, one PIN)."""
    by_seal: dict[str, SealEntry | SealBridgeError] = {entry.seal_id: entry}
    out: dict[int, SealEntry] = {}
    for doc in approval.docs:
        if doc.status != "ready":
            continue
        wanted = doc.seal_hint or entry.seal_id
        if wanted not in by_seal:
            try:
                other = await ctx.find_seal(wanted)
                if other.token_id != entry.token_id or other.key.key_id != entry.key.key_id:
                    raise SealBridgeError(
                        "SEAL_NOT_FOR_SIGNER", f"seal {wanted} needs another key than the one approved"
                    )
                await ctx.require_active(other)
                by_seal[wanted] = other
            except SealBridgeError as err:
                by_seal[wanted] = err
        found = by_seal[wanted]
        if isinstance(found, SealBridgeError):
            doc.fail(found)
        else:
            out[doc.index] = found
    return out


async def _stamp_documents(
    session: Session,
    approval: PendingBatch,
    entry: SealEntry,
    doc_seals: dict[int, SealEntry],
    who: dict[str, str],
) -> None:
    ctx = session.ctx
    signer = approval.signer
    for doc in approval.docs:
        if doc.status == "failed":  # unreadable, or its seal refused: recorded, never signed
            await _record_doc(ctx, approval, doc, who)
            await _send_outcome(session, approval, doc, b"", doc_seals, who)
    todo = [d for d in approval.docs if d.status == "ready"]
    stamper = configured_timestamper(ctx.cfg)  # the same timestamp policy as a single stamp
    required = getattr(ctx.cfg, "timestamp_required", True)

    def run(doc: BatchDoc, seal: SealEntry) -> tuple[bytes, Any, str, dict[str, Any] | None] | None:
        if approval.cancelled:
            return None  # cancelled while this document waited for the token: never signed
        stamp_fn = format_named(doc.format or "").stamp
        entry.token.info()  # TOKEN_ABSENT when the token went away
        opts = StampOptions(
            lock=bool(doc.options.get("lock", False)),
            reason=doc.options.get("reason"),
            location=doc.options.get("location"),
            producer=Producer(version=__version__),
        )

        def attempt(timestamper: Any) -> tuple[io.BytesIO, Any]:
            out = io.BytesIO()
            opts.timestamper = timestamper
            return out, stamp_fn(doc.data, out, signer, seal.seal.der, doc.placements, opts)

        (out, result), how = stamp_with_timestamp_policy(attempt, stamper, required)
        result.timestamp = how
        entry.token.info()
        data = out.getvalue()
        digest = sm3_of_result(data, doc.data, doc.sm3_state) if doc.sm3_state else sm3(data).hex()
        usage = _signed_usage(_usage_base(ctx, seal, doc.sm3_before, who), digest, signer)  # same login
        return data, result, digest, usage

    def submit(i: int) -> asyncio.Future[Any] | None:
        if i >= len(todo) or approval.cancelled:
            return None
        doc = todo[i]
        return asyncio.ensure_future(ctx.on_token_thread(entry, run, doc, doc_seals[doc.index]))

    pending = submit(0)
    for i, doc in enumerate(todo):
        out = b""
        if pending is None:  # cancelled before this document reached the token
            doc.fail(SealBridgeError("USER_CANCELLED", "the batch was cancelled"), "cancelled")
        else:
            await session.send_event(
                "batch.document", {"request_id": approval.request_id, "index": doc.index, "status": "signing"}
            )
            try:
                done = await pending
            except SealBridgeError as err:
                done = err
            except Exception as exc:  # a stamper bug on one document: that document fails, the rest go on
                done = _internal(exc, "stamp")
            # The next document goes to the token before this one's result is sent, so it is queued (and a
            # cancel seen after this result stops it on the token thread).
            pending = submit(i + 1)
            if done is None:
                doc.fail(SealBridgeError("USER_CANCELLED", "the batch was cancelled"), "cancelled")
            elif isinstance(done, SealBridgeError):
                doc.fail(done)
            else:
                out, result, doc.sm3_after, doc.usage = done
                seal = doc_seals[doc.index]
                doc.status, doc.data, doc.seal_id, doc.cert_serial = (
                    "stamped",
                    b"",
                    seal.seal_id,
                    seal.cert_serial,
                )
                doc.signature_ids, doc.pages = list(result.signature_ids), list(result.pages)
                doc.timestamp = result.timestamp
        await _record_doc(ctx, approval, doc, who)
        await _send_outcome(session, approval, doc, out, doc_seals, who)


async def _send_outcome(
    session: Session,
    approval: PendingBatch,
    doc: BatchDoc,
    out: bytes,
    doc_seals: dict[int, SealEntry],
    who: dict[str, str],
) -> None:
    """The document's result bytes (binary frames) and its `batch.document` event."""
    event: dict[str, Any] = {"request_id": approval.request_id, "index": doc.index, "status": doc.status}
    if doc.status == "stamped":
        _report_usage(session.ctx, doc.usage)
        event["document"] = await session.send_document(out, doc.format or "pdf", doc.sm3_after)
        event |= {"signature_ids": doc.signature_ids, "pages": doc.pages, "seal_id": doc.seal_id}
        if doc.timestamp is not None:
            event["timestamp"] = doc.timestamp
        event["audit_seq"] = doc.audit_seq
    elif doc.error is not None:
        event["error"] = error_data(doc.error)
    await session.send_event("batch.document", event)


async def _record_doc(ctx: AgentContext, approval: PendingBatch, doc: BatchDoc, who: dict[str, str]) -> None:
    seal = doc.seal_id or doc.seal_hint or approval.chosen
    detail: dict[str, Any] = {
        "request_id": approval.request_id,
        "batch_id": approval.request_id,
        "index": doc.index,
    }
    if doc.status == "stamped":
        detail |= {"format": doc.format, "signatures": doc.signature_ids, "pages": doc.pages}
        detail["timestamp"] = doc.timestamp
    rec = await asyncio.to_thread(
        ctx.audit.append,
        "stamp",
        "OK" if doc.status == "stamped" else (doc.error.code if doc.error else "INTERNAL"),
        doc_sm3_before=doc.sm3_before,
        doc_sm3_after=doc.sm3_after,
        seal_id=seal,
        cert_serial=doc.cert_serial,
        detail=detail,
        **who,
    )
    doc.audit_seq, doc.audit_hash = rec.seq, rec.hash


def _manifest(approval: PendingBatch, entry: SealEntry | None) -> dict[str, Any]:
    return {
        "type": MANIFEST_TYPE,
        "version": MANIFEST_VERSION,
        "batch_id": approval.request_id,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "origin": {"top": approval.origin_top, "frame": approval.origin_frame},
        "seal": None if entry is None else {"seal_id": entry.seal_id, "cert_serial": entry.cert_serial},
        "documents": [
            {
                "index": d.index,
                "name": d.name,
                "format": d.format,
                "page_count": d.page_count,
                "size": d.size,
                "sm3_before": d.sm3_before,
                "sm3_after": d.sm3_after,
                "placements": d.placements_raw,
                "seal_id": d.seal_id or d.seal_hint,
                "shown": d.shown,
                "status": d.status,
                "error_code": d.error.code if d.error else None,
                "audit_seq": d.audit_seq,
                "audit_hash": d.audit_hash,
            }
            for d in approval.docs
        ],
    }


async def _signed_manifest(ctx: AgentContext, approval: PendingBatch, entry: SealEntry) -> dict[str, Any]:
    """One more signature by the logged-in key, over the manifest; then the token is logged out."""
    signer, approval.signer = approval.signer, None
    manifest = _manifest(approval, entry)

    def run() -> dict[str, Any]:
        try:
            return sign_manifest(manifest, signer)
        finally:
            release_signer(signer)

    return await ctx.on_token_thread(entry, run)


async def _record_batch(
    ctx: AgentContext,
    approval: PendingBatch,
    result: str,
    detail: dict[str, Any],
    entry: SealEntry | None,
    who: dict[str, str],
) -> int:
    if "manifest" not in detail:
        detail = {"manifest": detail}
    detail = {"batch_id": approval.request_id, "documents": len(approval.docs)} | detail
    return await ctx.record(
        "batch",
        result,
        seal_id=entry.seal_id if entry else approval.chosen,
        cert_serial=entry.cert_serial if entry else None,
        detail=detail,
        **who,
    )
