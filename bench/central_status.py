"""Central platform status throughput: signed single and batch-of-100 status answers per second.

Runs a real `sealbridge central` process on 127.0.0.1 for SQLite (a file) and PostgreSQL (a throwaway cluster),
each with 100 seals, and queries it from an aiohttp client with a few concurrent connections for a fixed time.
Baseline measured in the same run: bare SM2 signatures per second in this process (each answer is one SM2
signature), so the ratio shows how much the HTTP + database path costs on top of the signature.

    .venv/bin/python bench/central_status.py [--seconds 5] [--concurrency 8] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from devkit.central_process import CentralHandle, create_admin_token  # noqa: E402
from devkit.material import imprint_png, make_cert  # noqa: E402


def seed(db_url: str, key_dir: Path, n: int) -> list[str]:
    from central import making, registry
    from central.service import Central, Settings

    central = Central(Settings(db_url=db_url, key_dir=key_dir))
    try:
        _, cert = make_cert("基准测试")
        comp = central.db.run_sync(registry.create_company, "91350100M000100Y43", "基准测试有限公司", "bench")
        imp = central.db.run_sync(
            registry.add_imprint, comp["id"], "公章", "png", imprint_png(), 40, 40, None, "bench"
        )
        esids = []
        for _ in range(n):
            seal = central.db.run_sync(
                making.make_seal,
                central.identity,
                company=comp["uscc"],
                imprint_id=imp["id"],
                kind="legal_name",
                name="基准测试有限公司",
                holder="张三",
                certs=[cert],
                actor="bench",
            )
            esids.append(seal["esID"])
        return esids
    finally:
        central.close()


async def hammer(url: str, esids: list[str], seconds: float, concurrency: int, batch: bool) -> float:
    """Seal statuses answered per second (a batch answer counts its 100 statuses; requests/s = that / 100)."""
    done = 0
    stop_at = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:

        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.monotonic() < stop_at:
                if batch:
                    async with session.post(f"{url}/api/v1/status", json={"esIDs": esids}) as r:
                        assert r.status == 200, await r.text()
                        await r.read()
                    done += len(esids)
                else:
                    async with session.get(f"{url}/api/v1/seals/{esids[i % len(esids)]}/status") as r:
                        assert r.status == 200, await r.text()
                        await r.read()
                    done += 1
                i += concurrency

        start = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done / (time.monotonic() - start)


def sm2_signs_per_second(seconds: float) -> float:
    from formats.gm import SM2PrivateKey

    key = SM2PrivateKey.generate()
    payload = b'{"esID":"91350100M000100Y430001","status":"active"}' * 20
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        key.sign(payload)
        n += 1
    return n / (time.monotonic() - start)


def run_backend(name: str, db_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    esids = seed(db_url, workdir / "keys", 100)
    create_admin_token(db_url)
    handle = CentralHandle(db_url=db_url, key_dir=workdir / "keys", workdir=workdir, rate=0.0)
    handle.start()
    try:
        asyncio.run(hammer(handle.url, esids, 0.5, args.concurrency, False))  # warm-up
        single = asyncio.run(hammer(handle.url, esids, args.seconds, args.concurrency, False))
        batched = asyncio.run(hammer(handle.url, esids, args.seconds, args.concurrency, True))
    finally:
        handle.stop()
    return {"single": single, "batch": batched}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    baseline = sm2_signs_per_second(2.0)
    print(f"baseline: {baseline:,.0f} SM2 signatures/s (one per signed answer)")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run_backend("sqlite", str(Path(tmp) / "central.db"), Path(tmp), args)
    if not args.no_postgres:
        from devkit.pgcluster import PgCluster

        cluster = PgCluster()
        cluster.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                results["postgres"] = run_backend("postgres", cluster.new_database(), Path(tmp), args)
        finally:
            cluster.stop()
    print(
        f"{'backend':10} {'single: answers/s':>18} {'÷ SM2 sign/s':>13} {'batch100: statuses/s':>21} {'requests/s':>11}"
    )
    for name, r in results.items():
        print(
            f"{name:10} {r['single']:18,.0f} {r['single'] / baseline:13.3f} {r['batch']:21,.0f} {r['batch'] / 100:11,.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
