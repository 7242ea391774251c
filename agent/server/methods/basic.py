"""hello, seals.list, tokens.list, token.changePin, audit.recent."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.server.context import token_summary
from agent.server.protocol import PROTOCOL_VERSION, Request, TakenUpload
from formats.errors import SealBridgeError

if TYPE_CHECKING:
    from agent.server.session import Session

CAPABILITIES = [
    "stamp",
    "stamp.batch",
    "verify",
    "preview",
    "cancel",
    "seals.list",
    "tokens",
    "events",
    "binary-documents",
]


async def hello(session: Session, req: Request) -> dict[str, Any]:
    lim = session.ctx.cfg.limits
    return {
        "agent": "sealbridge",
        "version": __version__,
        "protocol": PROTOCOL_VERSION,
        "capabilities": CAPABILITIES,
        "formats": ["pdf", "ofd"],
        "limits": {
            "max_document_bytes": lim.max_document_bytes,
            "max_chunk_bytes": lim.max_chunk_bytes,
            "max_chunks": lim.max_chunks,
            "max_placements": lim.max_placements,
            "max_pages": lim.max_pages,
            "max_batch_documents": lim.max_batch_documents,
        },
        # The administrator's word, so the extension's prompt follows it (docs/extension.md, onboarding).
        "sites": session.ctx.policy.admin_lists(),
    }


def releasing_uploads(
    method: Callable[[Session, Request, list[TakenUpload]], Awaitable[dict[str, Any]]],
) -> Callable[[Session, Request], Awaitable[dict[str, Any]]]:
    """A method that takes uploads gets a list to put each one in: every one is released (its bytes leave
    the agent's in-use budget) when the call ends, however it ends."""

    @functools.wraps(method)
    async def call(session: Session, req: Request) -> dict[str, Any]:
        held: list[TakenUpload] = []
        try:
            return await method(session, req, held)
        finally:
            for upload in held:
                upload.release()

    return call


async def admit(
    session: Session, origin: dict[str, str], what: str, documents: list[dict[str, Any]], *, site: bool = True
) -> None:
    """The site policy (`site`: not for the extension's own page) and the rate limit, before a call takes
    its documents. A refused call consumes the uploads it names all the same: kept, they would hold the
    upload caps for nothing."""
    try:
        if site:
            await check_site(session, origin, what)
        session.ctx.rate.check(origin["top"])
    except SealBridgeError:
        drop_uploads(session, documents)
        raise


def drop_uploads(session: Session, documents: list[dict[str, Any]]) -> None:
    """A refused call still consumes the uploads it names (they would otherwise hold the upload caps)."""
    for ref in documents:
        session.uploads.discard(ref)


async def check_site(session: Session, origin: dict[str, str], what: str) -> None:
    """Refuse (and audit) a site the administrator denies, or one the extension has not approved."""
    ctx = session.ctx
    policy = ctx.policy.for_request(origin["top"], origin["frame"], origin.get("grant"))
    if policy != "allowed":
        await ctx.record(
            "refusal",
            "ORIGIN_NOT_ALLOWED",
            origin_top=origin["top"],
            origin_frame=origin["frame"],
            detail={"call": what, "policy": policy, "grant": origin.get("grant")},
        )
        why = "not approved in the extension" if policy == "asks" else "denied"
        raise SealBridgeError("ORIGIN_NOT_ALLOWED", f"{origin['top']} ({why})")


async def seals_list(session: Session, req: Request) -> dict[str, Any]:
    # Seal names and certificate subjects say who the user is: only a site the user (or the administrator)
    # approved gets past check_site.
    await check_site(session, req.params["origin"], "seals.list")
    include = bool(req.params.get("include_pictures", False))
    entries = await session.ctx.seals()
    infos = await asyncio.to_thread(lambda: [e.to_info(include) for e in entries])
    if req.params.get("include_status"):
        states = await asyncio.gather(*(seal_state(session.ctx, e) for e in entries))
        for info, state in zip(infos, states, strict=True):
            info["status"] = state
    return {"seals": infos}


# The platform's refusal of a seal -> what the chooser shows beside it (docs/protocol.md, seals.list).
_STATE_OF_CODE = {
    "SEAL_REVOKED": "revoked",
    "SEAL_SUSPENDED": "suspended",
    "SEAL_EXPIRED": "expired",
    "SEAL_NOT_YET_VALID": "not_yet_valid",
    "SEAL_NOT_FOR_SIGNER": "authorization_ended",
    "SEAL_NOT_FOUND": "not_registered",
}
STATUS_TIMEOUT_S = 5.0


async def seal_state(ctx: Any, entry: Any) -> dict[str, Any]:
    """The seal's platform status now, as the stamp would find it: `usable` false when stamping with it
    would be refused, with the refusal's code; a platform that cannot be asked leaves it `unknown`."""
    if ctx.platform is None and not ctx.require_platform:
        return {"state": "unknown", "usable": True, "code": None}  # no platform configured to ask
    try:
        await asyncio.wait_for(ctx.require_active(entry), STATUS_TIMEOUT_S)
    except SealBridgeError as err:
        state = _STATE_OF_CODE.get(err.code)
        if state is None:
            return {"state": "unknown", "usable": True, "code": err.code}
        return {"state": state, "usable": False, "code": err.code}
    except TimeoutError:
        return {"state": "unknown", "usable": True, "code": "PLATFORM_UNREACHABLE"}
    return {"state": "active", "usable": True, "code": None}


async def tokens_list(session: Session, req: Request) -> dict[str, Any]:
    return {"tokens": [token_summary(info) for _, info in await session.ctx.tokens()]}


async def change_pin(session: Session, req: Request) -> dict[str, Any]:
    ctx = session.ctx
    token_id = req.params["token_id"]
    for token, info in await ctx.tokens():
        if info.token_id == token_id:
            from agent.server.context import _token_key

            try:
                await ctx.workers.run(
                    _token_key(token), token.change_pin, req.params["old_pin"], req.params["new_pin"]
                )
            except SealBridgeError as err:
                event = "pin_failure" if err.code in ("PIN_INCORRECT", "PIN_LOCKED") else "change_pin"
                await ctx.record(event, err.code, detail={"token_id": token_id, "call": "token.changePin"})
                raise
            await ctx.record("change_pin", "OK", detail={"token_id": token_id})
            return {"status": "changed"}
    raise SealBridgeError("TOKEN_NOT_FOUND", token_id)


async def audit_recent(session: Session, req: Request) -> dict[str, Any]:
    limit = int(req.params.get("limit", 50))
    records = await asyncio.to_thread(session.ctx.audit.recent, limit)
    return {"records": [r.to_dict() for r in records]}
