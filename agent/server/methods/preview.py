"""preview: PNG pictures of chosen pages with the seal drawn where the pending stamp will put it.

For the approval window (what you see is what you sign). PDF pages are rendered with pypdfium2 (no
scripts, no forms actions) and the seal picture is drawn at the boxes the PDF stamper will use (the same
layout code), riding-seam strips included. OFD pages come from stamping.ofd.preview (same result shape).
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


async def preview(session: Session, req: Request) -> dict[str, Any]:
    ctx = session.ctx
    approval = ctx.approvals.get(req.params["request_id"], session.id)
    index = req.params.get("index")
    data, fmt, raw_placements, seal_hint = approval.preview_target(index)
    render = format_named(fmt).preview
    approval.previews += 1
    if approval.previews > approval.max_previews:
        raise SealBridgeError("RATE_LIMITED", f"more than {approval.max_previews} previews for one request")
    seal_id = req.params.get("seal_id") or seal_hint
    entry: SealEntry
    if seal_id:
        entry = await ctx.find_seal(seal_id)
    else:
        seals = await ctx.seals()
        if not seals:
            raise SealBridgeError("TOKEN_ABSENT", "no seal to draw in the preview")
        entry = seals[0]
    placements = [from_dict(p) for p in raw_placements]
    pages = req.params.get("pages")
    if pages is None:
        pages = sorted({int(p["page"]) for p in raw_placements if p.get("type") == "at"}) or [1]
        pages = pages[:20]
    dpi = int(req.params.get("dpi", DEFAULT_DPI))
    result = await asyncio.to_thread(render, data, placements, entry.seal, pages, dpi)
    approval.mark_shown(index)
    return result
