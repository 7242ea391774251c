"""stamp, approve, cancel: the stamping path.

stamp → site policy → rate limit → document (uploaded binary frames, sniffed by content) → placements →
approval (the extension's window calls `approve` with the request id, seal and PIN; a wrong PIN is
answered on that `approve` and the approval stays open) → the seal's status at the central platform
(active required) → token login on the token's worker thread, and at the same time the stamp on a
thread of its own, whose one signature waits for that login and is made on the token's thread (early.py)
→ audit → result bytes as binary frames, then the JSON answer. Nothing is signed before `approve` and a
successful login; a failed login throws the prepared stamp away.
"""

from __future__ import annotations

import asyncio
import functools
import io
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.server.logs import log_event
from agent.server.methods.basic import admit, releasing_uploads
from agent.server.methods.early import EarlyStamp
from agent.server.protocol import RESULT_CHUNK_BYTES, ChunkedOutput, Request, TakenUpload
from agent.server.upload_copy import UploadCopy
from agent.tsa_client import configured_timestamper, stamp_with_timestamp_policy
from formats.errors import SealBridgeError
from formats.gm import sm3
from stamping.documents import document_format, format_named
from stamping.options import Producer, StampOptions
from stamping.placement import from_dict
from stamping.platform_status import platform_time
from stamping.usage_record import sign_record

if TYPE_CHECKING:
    from collections.abc import Callable

    from agent.seal_store import SealEntry
    from agent.server.approvals import Attempt, PendingApproval
    from agent.server.context import AgentContext
    from agent.server.session import Session

# Errors an `approve` may be retried after (the approval stays open); any other ends the request. A seal the
# platform refuses leaves the request open too: the clerk chooses another seal without starting over.
RETRYABLE = {
    "PIN_INCORRECT",
    "PIN_INVALID",
    "SEAL_NOT_FOUND",
    "SEAL_REVOKED",
    "SEAL_SUSPENDED",
    "SEAL_EXPIRED",
    "SEAL_NOT_YET_VALID",
    "SEAL_NOT_FOR_SIGNER",
    "BATCH_NOT_REVIEWED",
}


def _placements(raw: list[dict[str, Any]], max_count: int) -> list[Any]:
    if len(raw) > max_count:
        raise SealBridgeError("PLACEMENT_INVALID", f"more than {max_count} placements")
    return [from_dict(p) for p in raw]


@releasing_uploads
async def stamp(session: Session, req: Request, held: list[TakenUpload]) -> dict[str, Any]:
    ctx = session.ctx
    params = req.params
    top, frame = params["origin"]["top"], params["origin"]["frame"]
    who = {"origin_top": top, "origin_frame": frame}
    sm3_before: str | None = None
    upload: TakenUpload | None = None
    try:
        await admit(session, params["origin"], "stamp", [params["document"]])
        # Hashed as its frames arrive; SM3 is slower than loopback, so the last frames may still be
        # hashing: the document is read and the seals listed meanwhile, and nothing is shown or signed
        # before its SM3 is known (and matches the docRef's, when given).
        upload = session.uploads.take_arrived(params["document"])
        held.append(upload)
        data = await asyncio.to_thread(upload.join)
        fmt = (await asyncio.to_thread(document_format, data)).name  # opens a ZIP directory: not on the loop
        placements = _placements(params["placements"], ctx.cfg.limits.max_placements)
        pages = await asyncio.to_thread(format_named(fmt).page_count, data)
        if pages is not None and pages > ctx.cfg.limits.max_pages:
            raise SealBridgeError("DOC_TOO_LARGE", f"{pages} pages; the limit is {ctx.cfg.limits.max_pages}")
        seals = await ctx.seals()
        sm3_before = (await upload.hashed()).sm3
        approval = ctx.approvals.open(
            call_id=req.id,
            session_id=session.id,
            origin_top=top,
            origin_frame=frame,
            document={
                "name": params["document"].get("name"),
                "size": len(data),
                "sm3": sm3_before,
                "format": fmt,
                "page_count": pages,
            },
            placements=params["placements"],
            seal_hint=params.get("seal_id"),
            site_policy="asks" if params["origin"].get("grant") == "once" else "allowed",
            data=data,
            candidates={s.seal_id for s in seals},
        )
    except SealBridgeError as err:
        if err.code != "ORIGIN_NOT_ALLOWED":  # already audited as a refusal
            if sm3_before is None and upload is not None:
                sm3_before = await _sm3_if_hashed(upload)
            await ctx.record("refusal", err.code, doc_sm3_before=sm3_before, detail={"call": "stamp"}, **who)
        raise
    except Exception as exc:  # a bug met by this document: the attempt is still in the log
        detail = {"call": "stamp", "error": type(exc).__name__}
        await ctx.record("refusal", "INTERNAL", doc_sm3_before=sm3_before, detail=detail, **who)
        raise
    try:
        summary = approval.summary() | {"seals": [s.to_info(False) for s in seals]}
        await session.send_event("approval.required", summary)
        options = params.get("options", {})

        def job(entry: SealEntry) -> StampJob:
            usage = _usage_base(ctx, entry, sm3_before, who)
            return _stamp_job(session, approval, entry, data, fmt, placements, options, usage, upload)

        def start_early(entry: SealEntry) -> EarlyStamp:
            run = job(entry)
            return EarlyStamp(entry.key, functools.partial(ctx.call_on_token_thread, entry), run.early)

        entry = await _await_approval(session, approval, early=start_early)
        await _progress(session, approval, "signing", 0.0)
        out, result, usage, sm3_after = await _finish_stamp(session, approval, entry, job)
    except SealBridgeError as err:
        ctx.approvals.close(approval)
        outcome = "cancelled" if err.code == "USER_CANCELLED" else "failed"
        await session.send_event("approval.closed", {"request_id": approval.request_id, "outcome": outcome})
        await ctx.record(
            "stamp",
            err.code,
            doc_sm3_before=sm3_before,
            seal_id=approval.chosen or approval.seal_hint,
            detail={"request_id": approval.request_id},
            **who,
        )
        raise
    except Exception as exc:  # a bug after the approval opened: the page, the window and the log still hear
        ctx.approvals.close(approval)
        await session.send_event("approval.closed", {"request_id": approval.request_id, "outcome": "failed"})
        await ctx.record(
            "stamp",
            "INTERNAL",
            doc_sm3_before=sm3_before,
            seal_id=approval.chosen or approval.seal_hint,
            detail={"request_id": approval.request_id, "error": type(exc).__name__},
            **who,
        )
        raise
    except asyncio.CancelledError:
        # The connection went away (or the agent is stopping): the request ends unsigned or undelivered,
        # and the log says so. A signature already running on the token thread finishes there unused.
        ctx.approvals.close(approval)
        await ctx.record(
            "stamp",
            "USER_CANCELLED",
            doc_sm3_before=sm3_before,
            seal_id=approval.chosen or approval.seal_hint,
            detail={"request_id": approval.request_id, "why": "connection closed", "stage": approval.stage},
            **who,
        )
        raise
    finally:
        ctx.approvals.close(approval)
        if approval.early is not None:  # ended between the login and the stamp: its signature never comes
            approval.early.signer.fail(SealBridgeError("USER_CANCELLED", "the request ended"))
            approval.early = None
        release_left_signer(ctx, approval)  # ended between the login and the stamp: log the token out
    seq = await ctx.record(
        "stamp",
        "OK",
        doc_sm3_before=sm3_before,
        doc_sm3_after=sm3_after,
        seal_id=entry.seal_id,
        cert_serial=entry.cert_serial,
        detail={
            "request_id": approval.request_id,
            "format": fmt,
            "signatures": list(result.signature_ids),
            "pages": list(result.pages),
            "timestamp": result.timestamp,
        },
        **who,
    )
    _report_usage(ctx, usage)
    await _progress(session, approval, "sending", 1.0)
    doc = await session.send_document(out, fmt, sm3_after)
    return {
        "document": doc,
        "signature_ids": list(result.signature_ids),
        "pages": list(result.pages),
        "seal_id": entry.seal_id,
        "audit_seq": seq,
        "timestamp": result.timestamp,
    }


async def _sm3_if_hashed(upload: TakenUpload) -> str | None:
    """The SM3 of an upload refused before its hashing was awaited (for the refusal's audit record), or
    None when it cannot be hashed (incomplete) or names another SM3."""
    try:
        return (await upload.hashed()).sm3
    except SealBridgeError:
        return upload.sm3 or None


async def _progress(
    session: Session, approval: PendingApproval, phase: str, fraction: float | None = None
) -> None:
    params: dict[str, Any] = {"request_id": approval.request_id, "phase": phase}
    if fraction is not None:
        params["fraction"] = max(0.0, min(1.0, fraction))
    await session.send_event("progress", params)


async def _await_approval(
    session: Session,
    approval: PendingApproval,
    check: Callable[[Attempt], None] | None = None,
    early: Callable[[SealEntry], EarlyStamp] | None = None,
) -> SealEntry:
    """Loop over `approve` attempts until one logs in; returns the seal entry with `approval.signer` set.
    `check` refuses an attempt before the token is touched (a batch: every ticked document previewed).
    `early` starts the stamp as the login starts (early.py); it is kept in `approval.early` when the login
    succeeds and thrown away when it does not."""
    ctx = session.ctx
    who = {"origin_top": approval.origin_top, "origin_frame": approval.origin_frame}
    deadline = time.monotonic() + ctx.cfg.limits.approval_timeout_s
    while True:
        att = await ctx.approvals.next_attempt(approval, deadline)
        approval.chosen = att.seal_id
        entry: SealEntry | None = None
        try:
            if check is not None:
                check(att)
            entry = await _find_chosen_seal(ctx, approval, att.seal_id)
            if att.pin is None and not entry.token_info.pin_pad:
                raise SealBridgeError("PIN_INVALID", "a PIN is needed for this token")
            await _progress(session, approval, "status")
            await ctx.require_active(entry)
            await _progress(session, approval, "login")
            approval.early = early(entry) if early is not None else None
            try:
                approval.signer = await ctx.login(entry, att.pin)
                approval.signer_entry = entry
            except BaseException:
                await _abandon_early(approval)
                raise
            if approval.cancelled:
                await _abandon_early(approval)
                # `cancel` came while the status check or the login ran and was answered "cancelled":
                # keep that promise. No await between this check and stage = "signing" below.
                release_left_signer(ctx, approval)
                raise SealBridgeError("USER_CANCELLED", "cancelled while the token logged in")
        except SealBridgeError as err:
            ctx.approvals.answer(approval, err)
            event = "pin_failure" if err.code.startswith("PIN_") else "approval"
            await ctx.record(event, err.code, seal_id=att.seal_id, detail=_err_detail(err, approval), **who)
            if err.code in RETRYABLE:
                continue
            raise
        approval.stage = "signing"
        ctx.approvals.answer(approval, None)
        await ctx.record(
            "approval",
            "OK",
            seal_id=entry.seal_id,
            cert_serial=entry.cert_serial,
            doc_sm3_before=approval.document["sm3"],
            detail={"request_id": approval.request_id},
            **who,
        )
        await session.send_event(
            "approval.closed", {"request_id": approval.request_id, "outcome": "approved"}
        )
        return entry


async def _abandon_early(approval: PendingApproval) -> None:
    early, approval.early = approval.early, None
    if early is not None:
        await early.abandon()


async def _find_chosen_seal(ctx: AgentContext, approval: PendingApproval, seal_id: str) -> SealEntry:
    try:
        return await ctx.find_seal(seal_id)
    except SealBridgeError as err:
        if err.code == "SEAL_NOT_FOUND" and seal_id in approval.candidates:
            raise SealBridgeError("TOKEN_ABSENT", "the token holding this seal was removed") from None
        raise


def _err_detail(err: SealBridgeError, approval: PendingApproval) -> dict[str, Any]:
    out: dict[str, Any] = {"request_id": approval.request_id}
    if err.extra and "retries_left" in err.extra:
        out["retries_left"] = err.extra["retries_left"]
    return out


class StampJob:
    """The stamp of one approved request, run either on the token's thread with the logged-in signer, or
    early (early.py) on a worker thread with a signer that waits for the login."""

    def __init__(self, entry: SealEntry, stamp: Callable[[Any, Callable[..., Any]], StampOutcome]):
        self.entry = entry
        self._stamp = stamp

    def on_token_thread(self, signer: Any) -> StampOutcome:
        """Already on the token's thread: token calls are direct; the token is logged out after."""
        try:
            self.entry.token.info()  # raises TOKEN_ABSENT when the token went away after the login
            return self._stamp(signer, _direct)
        finally:
            release_signer(signer)  # one login, one stamp: the token is logged out again

    def early(self, signer: Any) -> StampOutcome:
        return self._stamp(signer, signer.on_token)


StampOutcome = tuple["bytes | ChunkedOutput", Any, "dict[str, Any] | None", str]


def _direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def _finish_stamp(
    session: Session, approval: PendingApproval, entry: SealEntry, job: Callable[[SealEntry], StampJob]
) -> StampOutcome:
    """The outcome of the stamp started with the login, or (no early stamp, or the login gave another key
    than the one prepared for) of a stamp run now on the token's thread."""
    ctx = session.ctx
    signer, early = approval.signer, approval.early
    approval.signer = approval.early = None
    if early is None:
        return await ctx.on_token_thread(entry, job(entry).on_token_thread, signer)
    try:
        done, outcome = await early.finish(signer)
    except asyncio.CancelledError:
        ctx.spawn(ctx.on_token_thread(entry, release_signer, signer))
        raise
    except BaseException:
        await ctx.on_token_thread(entry, release_signer, signer)
        raise
    if not done:
        return await ctx.on_token_thread(entry, job(entry).on_token_thread, signer)
    await ctx.on_token_thread(entry, release_signer, signer)
    return outcome


def _stamp_job(
    session: Session,
    approval: PendingApproval,
    entry: SealEntry,
    data: bytes,
    fmt: str,
    placements: list[Any],
    options: dict[str, Any],
    usage: dict[str, Any] | None = None,
    upload: TakenUpload | None = None,
) -> StampJob:
    """The stamp: the stamped bytes, the stamper's result, when `usage` is given that usage record
    completed and signed with the same key in the same login (stamping/usage_record.py), and the SM3 of
    the stamped bytes: a PDF's incremental update begins with the upload, so only what it appended is
    hashed, from the upload's own SM3 state."""
    loop = asyncio.get_running_loop()
    last = [0.0]

    def progress(fraction: float) -> None:
        """Called on the stamping thread; forwarded as `progress` events, at most every 5 %."""
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            asyncio.run_coroutine_threadsafe(_progress(session, approval, "signing", fraction), loop)

    opts = StampOptions(
        lock=bool(options.get("lock", False)),
        reason=options.get("reason"),
        location=options.get("location"),
        progress=progress,
        producer=Producer(version=__version__),
    )

    cfg = session.ctx.cfg
    stamper = configured_timestamper(cfg)

    def run(signer: Any, on_token: Callable[..., Any]) -> StampOutcome:
        stamp_fn = format_named(fmt).stamp  # may import pyHanko the first time: not on the loop
        from stamping.pdf.cms_signer import digest_for as pdf_digest  # imported with the stamper

        def attempt(timestamper: Any) -> tuple[Any, Any]:
            # In memory: a killed agent leaves no partial file behind. A PDF is written front to back, into
            # the chunks it is sent in, from the upload's own SM3 state (upload_copy.py); an OFD package
            # into one buffer.
            source: Any = data
            if fmt == "pdf":
                out: Any = ChunkedOutput(RESULT_CHUNK_BYTES)
                if upload is not None:
                    source = UploadCopy(data, out, upload.hasher, pdf_digest(signer))
            else:
                out = io.BytesIO()
            opts.timestamper = timestamper
            return out, stamp_fn(source, out, signer, entry.seal.der, placements, opts)

        (out, result), how = stamp_with_timestamp_policy(
            attempt, stamper, getattr(cfg, "timestamp_required", True)
        )
        result.timestamp = how
        # A token pulled while signing must not yield a document (hardware fails the same way).
        on_token(entry.token.info)
        read = getattr(result, "doc_sm3_before", None)
        if read and upload is not None and read != upload.sm3:
            raise SealBridgeError("INTERNAL", "the stamper read other bytes than were uploaded")
        stamped = out if isinstance(out, ChunkedOutput) else out.getvalue()  # CPython shares it: no copy
        digest = getattr(result, "doc_sm3_after", None) or _result_sm3(stamped, upload)
        return stamped, result, _signed_usage(usage, digest, signer), digest

    return StampJob(entry, run)


def _result_sm3(stamped: bytes | ChunkedOutput, upload: TakenUpload | None) -> str:
    """The output's SM3 when the stamper did not report it from its own pass."""
    if isinstance(stamped, ChunkedOutput):
        return stamped.sm3()
    return upload.digest_of_result(stamped) if upload is not None else sm3(stamped).hex()


def release_left_signer(ctx: AgentContext, approval: PendingApproval) -> None:
    """Log out a login that no stamp took (the request ended between the login and the stamp), on its
    token's thread, in the background."""
    signer, approval.signer = approval.signer, None
    entry = approval.signer_entry
    if signer is not None and entry is not None:
        ctx.spawn(ctx.on_token_thread(entry, release_signer, signer))


def release_signer(signer: Any) -> None:
    """Log the token out when the signer's driver can (PKCS#11 signers have close(); soft keys do not)."""
    close = getattr(signer, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:  # a token already gone cannot be logged out; nothing to keep open either
            log_event("signer_close_failed", error=type(exc).__name__)


def _usage_base(
    ctx: AgentContext, entry: SealEntry, sm3_before: str | None, who: dict
) -> dict[str, Any] | None:
    """The usage record known before stamping; None when there is no platform to report to."""
    if getattr(ctx.platform, "report_usage", None) is None:
        return None
    rec = {
        "id": uuid.uuid4().hex,
        "esID": entry.seal_id,
        "action": "stamp",
        "at": platform_time(datetime.now(UTC)),
        "doc_sm3_before": sm3_before,
        "origin": who["origin_top"],
        "frame_origin": who["origin_frame"],
        "cert_serial": entry.cert_serial,
        "result": "OK",
    }
    return {k: v for k, v in rec.items() if v is not None}


def _signed_usage(usage: dict[str, Any] | None, sm3_after: str, signer: Any) -> dict[str, Any] | None:
    """Runs on the token thread right after the stamp, in the same login: no second PIN."""
    if usage is None:
        return None
    try:
        return sign_record(usage | {"doc_sm3_after": sm3_after}, signer)
    except Exception as exc:  # the document is made; the local audit log still records the stamp
        log_event("usage_sign_failed", error=type(exc).__name__)
        return None


def _report_usage(ctx: AgentContext, record: dict[str, Any] | None) -> None:
    """Usage goes to the platform in the background: the client queues it durably first and retries later,
    so a slow or absent platform never delays the stamped document."""
    report = getattr(ctx.platform, "report_usage", None)
    if report is None or record is None:
        return

    async def send() -> None:
        try:
            await report([record])
        except Exception as exc:  # queued on disk by the client; the audit log has the record either way
            log_event("usage_report_failed", error=type(exc).__name__)

    ctx.spawn(send())


async def approve(session: Session, req: Request) -> dict[str, Any]:
    p = req.params
    answer = session.ctx.approvals.submit(
        p["request_id"], p["seal_id"], p.get("pin"), session.id, p.get("include")
    )
    await answer
    return {"status": "approved"}


async def cancel(session: Session, req: Request) -> dict[str, Any]:
    return {"status": session.ctx.approvals.cancel(req.params["request_id"], session.id)}
