"""Documents per second for a batch of one-page PDFs stamped through the agent with `stamp.batch` (one
approval, one PIN login), against the same documents stamped one by one with `stamp` (a login each) and
against calling stamping.pdf's stamp() directly with one logged-in signer — all in the same run.

    .venv/bin/python bench/batch_stamp.py [--docs 100] [--single 20]

The batch figure covers upload, the per-document sniffing and page counts, the approval, the login, every
stamp, its audit record, the result frames, the signed manifest and the batch record. The previews the
window must render (one per document, 36 dpi) are timed separately: a clerk pages through them before
approving. Real parts throughout: a real agent on a loopback port and a real soft token.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.client import AgentClient  # noqa: E402
from agent.config import Limits  # noqa: E402
from agent.devpki import make_dev_pki  # noqa: E402
from agent.server.app import create_app, make_context, start_sites  # noqa: E402
from devkit.agent_config import agent_config  # noqa: E402
from devkit.documents import one_page_pdf  # noqa: E402

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
ORIGIN = {"top": "https://bench.example.cn", "frame": "https://bench.example.cn"}
PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]


def direct(docs: list[bytes], signer, seal_der: bytes) -> float:
    from stamping.options import StampOptions
    from stamping.pdf.stamp import stamp
    from stamping.placement import from_dict

    placements = [from_dict(p) for p in PLACE]
    start = time.perf_counter()
    for data in docs:
        stamp(data, io.BytesIO(), signer, seal_der, placements, StampOptions())
    return time.perf_counter() - start


async def batch(c: AgentClient, docs: list[bytes], seal_id: str, pin: str) -> tuple[float, float]:
    """(seconds without the previews, seconds the previews took)."""
    start = time.perf_counter()
    items = [
        {"document": await c.upload(d, name=f"invoice-{i}.pdf"), "placements": PLACE}
        for i, d in enumerate(docs)
    ]
    fut = await c.start("stamp.batch", {"origin": ORIGIN, "documents": items})
    req = await c.next_event("batch.approval.required", within=300)
    p0 = time.perf_counter()
    for doc in req["documents"]:
        await c.call(
            "preview", {"request_id": req["request_id"], "index": doc["index"], "dpi": 36}, timeout_s=120
        )
    previews = time.perf_counter() - p0
    await c.call("approve", {"request_id": req["request_id"], "seal_id": seal_id, "pin": pin}, timeout_s=300)
    res = await asyncio.wait_for(fut, 3600)
    batch_docs = {}
    while len(batch_docs) < len(docs):
        ev = await c.next_event("batch.document", within=60, where=lambda p: p["status"] == "stamped")
        batch_docs[ev["index"]] = ev["document"]
    total = time.perf_counter() - start
    assert [d["status"] for d in res["documents"]] == ["stamped"] * len(docs), res["documents"][:3]
    for doc in res["documents"]:
        await c.download(batch_docs[doc["index"]])
    return total - previews, previews


async def singles(c: AgentClient, docs: list[bytes], seal_id: str, pin: str) -> float:
    start = time.perf_counter()
    for d in docs:
        out, _ = await c.stamp(d, PLACE, ORIGIN, approve=lambda req: (seal_id, pin), timeout_s=300)
        assert out.startswith(d)
    return time.perf_counter() - start


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--single", type=int, default=20, help="documents stamped one by one for the comparison")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_dev_pki(Path(tmp) / "pki")
        docs = [one_page_pdf(i) for i in range(args.docs)]
        from agent.tokens.soft import SoftToken

        token = SoftToken(pki.tokens["sm2"])
        signer = token.signer(pki.pin)
        seal_der = token.info().seals[0]
        home = Path(tmp) / "home"
        cfg = agent_config(
            home,
            [pki.tokens["sm2"]],
            extension=EXT,
            site_policy={ORIGIN["top"]: "allowed"},
            require_platform=False,
            limits=Limits(requests_per_minute=10_000),
        )
        ctx = make_context(cfg)
        runner = await start_sites(create_app(ctx, cfg.port), cfg, cfg.port)
        try:
            await asyncio.to_thread(direct, docs[:2], signer, seal_der)  # warm-up (imports, OIDs)
            d_s = await asyncio.to_thread(direct, docs, signer, seal_der)
            async with await AgentClient.connect(
                f"ws://127.0.0.1:{cfg.port}/v1", ctx.secret, origin=EXT
            ) as c:
                b_s, p_s = await batch(c, docs, pki.seal_ids["sm2"], pki.pin)
                s_s = await singles(c, docs[: args.single], pki.seal_ids["sm2"], pki.pin)
        finally:
            await runner.cleanup()

    n = args.docs
    print(f"{n} one-page PDFs ({sum(map(len, docs)) / n / 1024:.1f} KiB each), soft SM2 token, one run")
    print(f"direct stamp(), one signer:           {n / d_s:7.1f} docs/s")
    print(f"stamp.batch through the agent:        {n / b_s:7.1f} docs/s  (previews excluded)")
    print(f"  the window's previews (36 dpi):     {n / p_s:7.1f} docs/s")
    print(f"stamp one by one ({args.single}, a login each): {args.single / s_s:7.1f} docs/s")
    print(f"ratio batch / direct:                 {d_s / b_s:7.2f}")
    print(f"ratio batch / one by one:             {(n / b_s) / (args.single / s_s):7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
