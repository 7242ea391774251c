"""SM3 throughput and SM2 sign/verify latency per backend. Run by hand: .venv/bin/python bench/sm3_sm2.py

Prints SM3 MB/s through each document-hash backend (formats.dochash: hashlib, and the cryptography
fallback) against gmssl's pure-Python SM3 (on a small buffer, since it runs at about 0.1 MB/s); for each
backend, the longest pause of a Python loop while another thread hashes 64 MiB in one update (about the
whole hash if the update held the GIL, a few milliseconds if it does not); and SM2 sign/verify milliseconds
for each installed backend with the tongsuo/gmssl ratio.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gmssl import func as gmssl_func  # noqa: E402
from gmssl import sm3 as gmssl_sm3  # noqa: E402

from formats import dochash  # noqa: E402
from formats.gm import SM2PrivateKey, available_backends  # noqa: E402


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


def _longest_pause(hash_once: Callable[[], object]) -> tuple[float, float]:
    """(longest stall of a Python loop on this thread, seconds the other thread's hash took)."""
    done = threading.Event()
    took: list[float] = []

    def work() -> None:
        start = time.perf_counter()
        hash_once()
        took.append(time.perf_counter() - start)
        done.set()

    thread = threading.Thread(target=work)
    last = time.perf_counter()
    longest = 0.0
    thread.start()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    return longest, took[0]


def main() -> None:
    big = os.urandom(64 << 20)
    small = os.urandom(64 << 10)
    makers = {
        f"{dochash.backend('sm3')} (default)": dochash.new_hash,
        "cryptography": dochash.cryptography_hash,
    }
    rates = {name: _rate(lambda m=make: m("sm3", big).digest(), len(big)) for name, make in makers.items()}
    slow = _rate(lambda: gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(small)), len(small))
    for name, rate in rates.items():
        pause, took = _longest_pause(lambda m=makers[name]: m("sm3", big).digest())
        print(f"SM3 {name:20s} {rate:8.1f} MB/s (64 MiB buffer); a Python loop beside it stalled at most "
              f"{pause * 1e3:.1f} ms of the {took * 1e3:.0f} ms hash")  # fmt: skip
    print(f"SM3 gmssl (pure): {slow:8.3f} MB/s (64 KiB buffer)")
    print(f"SM3 ratio default/gmssl: {next(iter(rates.values())) / slow:,.0f}x")

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
