"""preview: PNG pictures of chosen pages with the seal drawn where the pending stamp will put it.

For the approval window (what you see is what you sign). The format's own preview draws the pages
(stamping.pdf.preview, stamping.ofd.preview; one result shape), chosen through stamping.documents.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agent.server.protocol import Request
from formats.errors import SealBridgeError
from stamping.documents import format_named
from stamping.placement import from_dict

if TYPE_CHECKING:
    from agent.seal_store import SealEntry
    from agent.server.session import Session

DEFAULT_DPI = 72
MAX_PREVIEWS_PER_REQUEST = 100


async def preview(session: Session, req: Request) -> dict[str, Any]:
    ctx = session.ctx
    approval = ctx.approvals.get(req.params["request_id"], session.id)
    fmt = approval.document["format"]
    render = format_named(fmt).preview
    approval.previews += 1  # the window re-renders when the user picks another seal; bounded per request
    if approval.previews > MAX_PREVIEWS_PER_REQUEST:
        raise SealBridgeError(
            "RATE_LIMITED", f"more than {MAX_PREVIEWS_PER_REQUEST} previews for one request"
        )
    seal_id = req.params.get("seal_id") or approval.seal_hint
    entry: SealEntry
    if seal_id:
        entry = await ctx.find_seal(seal_id)
    else:
        seals = await ctx.seals()
        if not seals:
            raise SealBridgeError("TOKEN_ABSENT", "no seal to draw in the preview")
        entry = seals[0]
    placements = [from_dict(p) for p in approval.placements]
    pages = req.params.get("pages")
    if pages is None:
        pages = sorted({int(p["page"]) for p in approval.placements if p.get("type") == "at"}) or [1]
        pages = pages[:20]
    dpi = int(req.params.get("dpi", DEFAULT_DPI))
    return await asyncio.to_thread(render, approval.data, placements, entry.seal, pages, dpi)
