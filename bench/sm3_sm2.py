"""SM3 throughput and SM2 sign/verify latency per backend. Run by hand: .venv/bin/python bench/sm3_sm2.py

Prints SM3 MB/s through cryptography against gmssl's pure-Python SM3 (on a small buffer, since it runs at
about 0.1 MB/s), and SM2 sign/verify milliseconds for each installed backend with the tongsuo/gmssl ratio.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gmssl import func as gmssl_func  # noqa: E402
from gmssl import sm3 as gmssl_sm3  # noqa: E402

from formats.gm import SM2PrivateKey, available_backends, sm3  # noqa: E402


def _rate(fn, size: int, min_seconds: float = 1.0) -> float:
    """MB/s of fn() over a `size`-byte buffer."""
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return runs * size / elapsed / 1e6


def _ms(fn, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs * 1e3


def main() -> None:
    big = os.urandom(64 << 20)
    small = os.urandom(64 << 10)
    fast = _rate(lambda: sm3(big), len(big))
    slow = _rate(lambda: gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(small)), len(small))
    print(f"SM3 cryptography: {fast:8.1f} MB/s (64 MiB buffer)")
    print(f"SM3 gmssl (pure): {slow:8.3f} MB/s (64 KiB buffer)")
    print(f"SM3 ratio cryptography/gmssl: {fast / slow:,.0f}x")

    key = SM2PrivateKey.generate()
    msg = os.urandom(256)
    results: dict[str, tuple[float, float]] = {}
    for backend in available_backends():
        runs = 500 if backend == "tongsuo" else 40
        sig = key.sign(msg, backend=backend)
        sign_ms = _ms(lambda b=backend: key.sign(msg, backend=b), runs)
        verify_ms = _ms(lambda b=backend, s=sig: key.public_key.verify(msg, s, backend=b), runs)
        results[backend] = (sign_ms, verify_ms)
        print(f"SM2 {backend:8s} sign {sign_ms:7.3f} ms  verify {verify_ms:7.3f} ms  ({runs} runs)")
    if "tongsuo" in results and "gmssl" in results:
        (ts, tv), (gs, gv) = results["tongsuo"], results["gmssl"]
        print(
            f"SM2 ratio tongsuo/gmssl: sign {ts / gs:.4f} ({gs / ts:.0f}x faster), verify {tv / gv:.4f} ({gv / tv:.0f}x faster)"
        )


if __name__ == "__main__":
    main()
