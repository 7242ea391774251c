"""hello, seals.list, tokens.list, token.changePin, audit.recent."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.server.context import token_summary
from agent.server.protocol import PROTOCOL_VERSION, Request
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
    }


async def check_site(session: Session, origin: dict[str, str], what: str) -> str:
    """The page's policy; a denied site is refused here (and audited)."""
    ctx = session.ctx
    policy = ctx.policy.for_request(origin["top"], origin["frame"])
    if policy == "denied":
        await ctx.record(
            "refusal",
            "ORIGIN_NOT_ALLOWED",
            origin_top=origin["top"],
            origin_frame=origin["frame"],
            detail={"call": what},
        )
        raise SealBridgeError("ORIGIN_NOT_ALLOWED", origin["top"])
    return policy


async def seals_list(session: Session, req: Request) -> dict[str, Any]:
    policy = await check_site(session, req.params["origin"], "seals.list")
    if policy != "allowed":
        # Seal names and certificate subjects say who the user is: a site the user has not allowed yet learns
        # nothing until it asks for a stamp and the user approves it (the approval window lists the seals).
        return {"seals": []}
    include = bool(req.params.get("include_pictures", False))
    entries = await session.ctx.seals()
    infos = await asyncio.to_thread(lambda: [e.to_info(include) for e in entries])
    return {"seals": infos}


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
