"""Central time-stamp service throughput: RFC 3161 tokens per second (SM3/SM2 and SHA-256/ECDSA), SQLite.

Runs a real `sealbridge central` process on 127.0.0.1 (SQLite file; every token is an audit record) and posts
time-stamp requests from an aiohttp client with a few concurrent connections for a fixed time. Baseline measured
in the same run: bare signatures per second in this process (each token is one signature), so the ratio shows
what the HTTP + audit + CMS path costs on top of the signature.

    .venv/bin/python bench/central_tsa.py [--seconds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from devkit.central_process import CentralHandle, create_admin_token  # noqa: E402


async def hammer(url: str, hash_name: str, seconds: float, concurrency: int) -> float:
    from formats.gm import sm3
    from stamping.timestamps.reply import TimeStampResp, build_request

    done = 0
    stop_at = time.monotonic() + seconds
    headers = {"Content-Type": "application/timestamp-query"}
    async with aiohttp.ClientSession() as session:

        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.monotonic() < stop_at:
                value = f"signature value {i}".encode()
                digest = sm3(value) if hash_name == "sm3" else hashlib.sha256(value).digest()
                async with session.post(
                    f"{url}/api/v1/tsa", data=build_request(digest, hash_name, i), headers=headers
                ) as r:
                    body = await r.read()
                    assert (
                        r.status == 200 and TimeStampResp.load(body)["status"]["status"].native == "granted"
                    )
                done += 1
                i += concurrency

        start = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done / (time.monotonic() - start)


def signs_per_second(kind: str, seconds: float) -> float:
    from cryptography.hazmat.primitives.asymmetric import ec

    from formats.gm import SM2PrivateKey
    from formats.keysigner import sign_with_key

    key = SM2PrivateKey.generate() if kind == "sm2" else ec.generate_private_key(ec.SECP256R1())
    payload = b"\x31" + bytes(180)  # about the size of a token's signed attributes
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        sign_with_key(key, payload, "sha256")
        n += 1
    return n / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    baselines = {"sm3": signs_per_second("sm2", 2.0), "sha256": signs_per_second("ecdsa", 2.0)}
    print(f"baseline: {baselines['sm3']:,.0f} SM2 and {baselines['sha256']:,.0f} ECDSA P-256 signatures/s")
    with tempfile.TemporaryDirectory() as tmp:
        db_url = str(Path(tmp) / "central.db")
        create_admin_token(db_url)
        handle = CentralHandle(db_url=db_url, key_dir=Path(tmp) / "keys", workdir=Path(tmp), rate=0.0)
        handle.start()
        try:
            asyncio.run(hammer(handle.url, "sm3", 0.5, args.concurrency))  # warm-up
            rates = {
                h: asyncio.run(hammer(handle.url, h, args.seconds, args.concurrency))
                for h in ("sm3", "sha256")
            }
        finally:
            handle.stop()
    print(f"{'imprint':8} {'tokens/s':>10} {'÷ bare sign/s':>14}")
    for name, rate in rates.items():
        print(f"{name:8} {rate:10,.0f} {rate / baselines[name]:14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
