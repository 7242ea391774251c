"""A 20 MB PDF stamped through the agent's WebSocket (binary frames, approval, PIN login) versus calling
stamping.pdf's stamp() directly with an already logged-in signer, in the same run; prints the ratio.

    .venv/bin/python bench/agent_roundtrip.py [--mb 20] [--runs 3]

The round trip includes: upload in 1 MiB frames, SM3 of the upload, page count, the approval step, the
soft token's PIN login (a memory-hard KDF, reported separately), the stamp, the audit record, and the
download of the result. Real parts throughout: a real agent on a loopback port, a real soft token.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.client import AgentClient  # noqa: E402
from agent.config import AgentConfig, Limits  # noqa: E402
from agent.devpki import make_dev_pki  # noqa: E402
from agent.server.app import create_app, make_context, start_sites  # noqa: E402
from devkit.material import big_pdf  # noqa: E402
from devkit.ports import free_port  # noqa: E402

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
ORIGIN = {"top": "https://bench.example.cn", "frame": "https://bench.example.cn"}
PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]


def direct(data: bytes, signer, seal_der: bytes) -> float:
    from stamping.options import StampOptions
    from stamping.pdf.stamp import stamp
    from stamping.placement import from_dict

    start = time.perf_counter()
    out = io.BytesIO()
    stamp(data, out, signer, seal_der, [from_dict(p) for p in PLACE], StampOptions())
    return time.perf_counter() - start


async def through_agent(url: str, secret: bytes, data: bytes, seal_id: str, pin: str) -> float:
    async with await AgentClient.connect(url, secret, origin=EXT) as c:
        start = time.perf_counter()
        out, _ = await c.stamp(data, PLACE, ORIGIN, approve=lambda req: (seal_id, pin), timeout_s=300)
        elapsed = time.perf_counter() - start
        assert out.startswith(data)
        return elapsed


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_dev_pki(Path(tmp) / "pki")
        data = big_pdf(int(args.mb * 1024 * 1024))
        from agent.tokens.soft import SoftToken
        from formats.gm import sm3

        token = SoftToken(pki.tokens["sm2"])
        t0 = time.perf_counter()
        signer = token.signer(pki.pin)
        login_s = time.perf_counter() - t0
        seal_der = token.info().seals[0]
        t0 = time.perf_counter()
        sm3(data)
        sm3_s = time.perf_counter() - t0

        home = Path(tmp) / "home"
        cfg = AgentConfig(
            home=home,
            data_dir=home / "data",
            runtime_dir=home / "run",
            port=free_port(),
            allowed_origins=[EXT],
            soft_tokens=[str(pki.tokens["sm2"])],
            require_platform=False,
            limits=Limits(requests_per_minute=1000),
        )
        ctx = make_context(cfg)
        runner = await start_sites(create_app(ctx, cfg.port), cfg, cfg.port)
        url = f"ws://127.0.0.1:{cfg.port}/v1"
        try:
            await asyncio.to_thread(direct, data, signer, seal_der)  # warm-up (imports, OIDs)
            d_times, a_times, l_times = [], [], [login_s]
            for _ in range(args.runs):
                d_times.append(await asyncio.to_thread(direct, data, signer, seal_der))
                a_times.append(await through_agent(url, ctx.secret, data, pki.seal_ids["sm2"], pki.pin))
                t0 = time.perf_counter()
                await asyncio.to_thread(token.signer, pki.pin)
                l_times.append(time.perf_counter() - t0)
        finally:
            await runner.cleanup()

    d, a, login_s = statistics.median(d_times), statistics.median(a_times), statistics.median(l_times)
    size_mb = len(data) / 1e6
    print(f"document: {size_mb:.1f} MB PDF, {args.runs} runs each (median)")
    print(f"SM3 of the document:                     {sm3_s * 1000:8.1f} ms")
    print(f"soft token PIN login (in the round trip): {login_s * 1000:8.1f} ms")
    print(f"direct stamp() call:                     {d * 1000:8.1f} ms")
    print(f"through the agent WebSocket:             {a * 1000:8.1f} ms  ({size_mb / a:.1f} MB/s end to end)")
    print(f"ratio agent / direct:                    {a / d:8.2f}")
    print(f"ratio agent / (direct + login):          {a / (d + login_s):8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
