"""verify: the report per seal (stamping.report), with the platform status now and at signing time."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.server.methods.basic import admit, releasing_uploads
from agent.server.protocol import Request, TakenUpload
from formats.errors import SealBridgeError
from stamping.documents import document_format
from stamping.options import VerifyOptions
from stamping.platform_status import StatusLookup, error_check
from stamping.report import Check

if TYPE_CHECKING:
    from agent.server.context import AgentContext
    from agent.server.session import Session

STATUS_TIMEOUT_S = 15.0


def load_anchors(paths: list[str]) -> list[bytes]:
    """DER certificates from PEM or DER files; unreadable files are skipped (the report says unknown).
    Each file is read again only when it changed: the agent verifies many documents with the same anchors,
    and the same DER bytes let the verifiers reuse what they parsed (stamping.pdf.anchors)."""
    out: list[bytes] = []
    for p in paths:
        try:
            st = Path(p).stat()
        except OSError:
            continue
        out.extend(_anchor_file(p, st.st_mtime_ns, st.st_size))
    return out


@lru_cache(maxsize=64)
def _anchor_file(path: str, mtime_ns: int, size: int) -> tuple[bytes, ...]:
    import base64
    import re

    try:
        raw = Path(path).read_bytes()
    except OSError:
        return ()
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", raw, re.S)
    return tuple(base64.b64decode(b"".join(x.split())) for x in pems) if pems else (raw,)


def status_lookup(ctx: AgentContext, loop: asyncio.AbstractEventLoop) -> StatusLookup | None:
    """A synchronous StatusLookup for the verifier thread that asks the async platform client on the loop."""
    platform = ctx.platform
    if platform is None:
        return None

    def lookup(esid: str, signed_at: datetime | None, cert_der: bytes | None = None) -> Check:
        # With the signer certificate the platform also checks that it held, or was authorized to use, the
        # seal at signing time (stamping.platform_status.cert_may_use).
        try:
            fut = asyncio.run_coroutine_threadsafe(platform.status_check(esid, signed_at, cert_der), loop)
            return fut.result(STATUS_TIMEOUT_S)
        except SealBridgeError as err:
            return error_check(err.code, esid)
        except Exception as exc:  # the platform's trouble makes the check unknown, never a crash
            return Check.unknown("PLATFORM_UNREACHABLE", error_code=type(exc).__name__)

    return lookup


async def platform_roots(ctx: AgentContext) -> list[bytes]:
    """The configured platform's roots, so the timestamps its TSA issued are trusted; none when it is down
    (those timestamps then verify but stay "unknown": untrusted)."""
    roots = getattr(ctx.platform, "root_certificates", None)
    if roots is None:
        return []
    try:
        return await asyncio.wait_for(roots(), STATUS_TIMEOUT_S)
    except (SealBridgeError, TimeoutError):
        return []


def platform_facts(platform: Any) -> dict[str, Any] | None:
    """The platform the report's policy names: its URL and the certificate its answers are checked with."""
    if platform is None:
        return None
    pinned = list(getattr(platform, "trusted_fingerprints", []) or [])
    return {"url": getattr(platform, "base_url", None), "certificate_sha256": pinned[0] if pinned else None}


async def _document_digests(doc_format: str, data: bytes, sm3_hex: str) -> tuple[str, str] | None:
    """The report's (SM3, SHA-256) of the document, or None for the verifier to compute. The upload was
    hashed with SM3 as it arrived; an OFD's SHA-256 is still to compute. A PDF's verifier makes both in the
    one pass its signatures' digests come from (stamping.pdf.sigdigest): a SHA-256 here would be a second."""
    if doc_format == "pdf":
        return None
    return sm3_hex, await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())


@releasing_uploads
async def verify(session: Session, req: Request, held: list[TakenUpload]) -> dict[str, Any]:
    ctx = session.ctx
    # No origin: the extension's own verify page (the user's own file), not a web page. No site policy
    # applies; the call is rate-limited and audited under the extension origin this connection proved.
    origin = req.params.get("origin") or {"top": session.ext_origin, "frame": session.ext_origin}
    own = "origin" not in req.params
    who = {"origin_top": origin["top"], "origin_frame": origin["frame"]}
    sm3_before: str | None = None
    try:
        await admit(session, origin, "verify", [req.params["document"]], site=not own)
        upload = await session.uploads.take_hashed(req.params["document"])
        held.append(upload)
        sm3_before = upload.sm3
        data = await asyncio.to_thread(upload.join)  # up to 200 MiB: not on the loop
        doc_format = await asyncio.to_thread(document_format, data)  # opens a ZIP directory: not on the loop
        anchors = await asyncio.to_thread(load_anchors, ctx.cfg.trust_anchors)
        opts = VerifyOptions(
            trust_anchors=anchors + await platform_roots(ctx),
            status_lookup=status_lookup(ctx, asyncio.get_running_loop()),
            platform=platform_facts(ctx.platform),
            document_digests=await _document_digests(doc_format.name, data, sm3_before),
        )
        validated_at = datetime.now(UTC)
        report = await asyncio.to_thread(doc_format.verify, data, opts)
        evidence = None
        if req.params.get("evidence") == "pdf":
            name = req.params["document"].get("name") or f"document.{doc_format.name}"
            platform_url = ctx.cfg.platform_url if ctx.platform is not None else None
            evidence = await asyncio.to_thread(
                _evidence, name, data, report, opts.trust_anchors, platform_url, validated_at
            )
    except SealBridgeError as err:
        if err.code != "ORIGIN_NOT_ALLOWED":
            await ctx.record("verify", err.code, doc_sm3_before=sm3_before, **who)
        raise
    out = report.to_dict()
    seal_ids = [s.get("seal", {}).get("esID") for s in out.get("seals", []) if s.get("seal")]
    seq = await ctx.record(
        "verify",
        "OK",
        doc_sm3_before=sm3_before,
        seal_id=",".join(x for x in seal_ids if x)[:200] or None,
        detail={
            "verdict": out.get("verdict"),
            "format": doc_format.name,
            "seals": len(out.get("seals", [])),
            "evidence": evidence is not None,
        },
        **who,
    )
    result: dict[str, Any] = {"report": out, "audit_seq": seq}
    if evidence is not None:
        result["evidence"] = await session.send_document(evidence, "pdf")
    return result


def _evidence(
    name: str,
    data: bytes,
    report: Any,
    anchors: list[bytes],
    platform_url: str | None,
    validated_at: datetime,
) -> bytes:
    import json

    from stamping.evidence.build import EvidenceInput, build_evidence

    return build_evidence(
        EvidenceInput(
            document_name=name,
            data=data,
            report=report,
            report_json=json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode("utf-8"),
            validated_at=validated_at,
            trust_anchors=anchors,
            platform_url=platform_url,
        )
    )
