"""A 20 MB PDF stamped through the agent's WebSocket (binary frames, approval, PIN login) versus calling
stamping.pdf's stamp() directly with an already logged-in signer plus one soft-token PIN login, in the same
run (interleaved, best of N); prints the ratio and the agent process's peak memory.

    .venv/bin/python bench/agent_roundtrip.py [--mb 20] [--runs 5]

The agent is the real `sealbridge agent`, a process of its own as in use (the browser is another), on a
loopback port with a real soft token. The round trip, timed by the client: upload in 1 MiB frames (hashed
on both sides as they go), the `stamp` call, page count, the approval step, the soft token's PIN login (a
memory-hard KDF, also timed alone), the stamp, the audit record, the download of the result and the
client's check of its size and SM3. Peak RSS is the agent's high-water mark during a round trip above its
resident size just before it (Linux: /proc/PID/clear_refs resets the mark), as a multiple of the document.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.client import AgentClient  # noqa: E402
from agent.devpki import make_dev_pki  # noqa: E402
from devkit.material import big_pdf  # noqa: E402
from devkit.ports import free_port  # noqa: E402
from devkit.processes import stop_process  # noqa: E402

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
SITE = "https://bench.example.cn"
ORIGIN = {"top": SITE, "frame": SITE}
PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]


def direct(data: bytes, signer, seal_der: bytes) -> float:
    from stamping.options import StampOptions
    from stamping.pdf.stamp import stamp
    from stamping.placement import from_dict

    start = time.perf_counter()
    out = io.BytesIO()
    stamp(data, out, signer, seal_der, [from_dict(p) for p in PLACE], StampOptions())
    return time.perf_counter() - start


def start_agent(home: Path, token: Path) -> subprocess.Popen:
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'port = {free_port()}\nallowed_origins = ["{EXT}"]\nsoft_tokens = ["{token}"]\n'
        f'require_platform = false\n[site_policy]\n"{SITE}" = "allowed"\n'
        "[limits]\nrequests_per_minute = 100000\n"
    )
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    log = open(home / "agent.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealbridge", "agent"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    runtime = home / "run" / "agent.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit((home / "agent.log").read_text()[-3000:])
        if runtime.exists() and json.loads(runtime.read_text()).get("pid") == proc.pid:
            return proc
        time.sleep(0.05)
    stop_process(proc)
    raise SystemExit("the agent did not start")


def kdf_memory(token: Path) -> int:
    """argon2id's working memory: every login allocates it, whatever the document's size."""
    return json.loads(token.read_text())["kdf"]["memory_kib"] * 1024


class PeakRss:
    """The agent's resident memory high-water mark above its size when `reset()` was called (Linux)."""

    def __init__(self, pid: int):
        self.proc = Path(f"/proc/{pid}")
        self.base = 0

    def _kib(self, field: str) -> int:
        for line in (self.proc / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def reset(self) -> None:
        try:
            (self.proc / "clear_refs").write_text("5")
            self.base = self._kib("VmRSS")
        except OSError:
            self.base = -1

    def extra_bytes(self) -> int | None:
        if self.base < 0:
            return None
        return max(0, self._kib("VmHWM") - self.base) * 1024


async def through_agent(home: Path, data: bytes, seal_id: str, pin: str) -> float:
    async with await AgentClient.connect_home(home, origin=EXT) as c:
        start = time.perf_counter()
        out, _ = await c.stamp(data, PLACE, ORIGIN, approve=lambda req: (seal_id, pin), timeout_s=300)
        elapsed = time.perf_counter() - start
    if not out.startswith(data):
        raise SystemExit("the agent's result is not an incremental update of the upload")
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
        kdf_bytes = kdf_memory(pki.tokens["sm2"])
        signer = token.signer(pki.pin)
        seal_der = token.info().seals[0]
        home = Path(tmp) / "home"
        agent = start_agent(home, pki.tokens["sm2"])
        rss = PeakRss(agent.pid)
        seal_id, pin = pki.seal_ids["sm2"], pki.pin
        try:
            await asyncio.to_thread(direct, data, signer, seal_der)  # warm-up (imports, OIDs), both sides
            await through_agent(home, data, seal_id, pin)
            sm3_t, login_t, direct_t, agent_t, peaks = [], [], [], [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                sm3(data)
                sm3_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                token.signer(pin)
                login_t.append(time.perf_counter() - t0)
                direct_t.append(
                    await asyncio.to_thread(direct, data, signer, seal_der)
                )  # stamp() runs its own loop
                rss.reset()
                agent_t.append(await through_agent(home, data, seal_id, pin))
                peaks.append(rss.extra_bytes())
        finally:
            stop_process(agent)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    s, login_s, d, a = min(sm3_t), min(login_t), min(direct_t), min(agent_t)
    size_mb = len(data) / 1e6
    print(f"document: {size_mb:.1f} MB PDF, best of {args.runs} runs each, interleaved")
    print(f"load average (1/5/15 min) at the end:    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"SM3 of the document:                     {s * 1000:8.1f} ms")
    print(f"soft token PIN login (in the round trip): {login_s * 1000:8.1f} ms")
    print(f"direct stamp() call:                     {d * 1000:8.1f} ms")
    print(f"direct stamp + login:                    {(d + login_s) * 1000:8.1f} ms")
    print(f"through the agent WebSocket:             {a * 1000:8.1f} ms  ({size_mb / a:.1f} MB/s end to end)")
    known = [p for p in peaks if p is not None]
    if known:
        worst = max(known)
        rest = max(0, worst - kdf_bytes)
        print(
            f"agent peak RSS above idle (worst run):   {worst / 1e6:8.1f} MB  ({worst / len(data):.2f}x the document)"
        )
        print(
            f"  less the PIN KDF's own memory ({kdf_bytes / 1e6:.1f} MB):  {rest / 1e6:8.1f} MB  "
            f"({rest / len(data):.2f}x the document)"
        )
    print(f"ratio agent / direct:                    {a / d:8.2f}")
    print(f"ratio agent / (direct + login):          {a / (d + login_s):8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
