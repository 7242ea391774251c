"""A 20 MB PDF stamped through the agent's WebSocket (binary frames, approval, PIN login) versus calling
stamping.pdf's stamp() directly with an already logged-in signer plus one soft-token PIN login, in the same
run (interleaved, best of N); prints the ratio (also each round's own, against that round's direct stamp and
login), CPU time beside wall time, and the agent process's peak memory.

    .venv/bin/python bench/agent_roundtrip.py [--mb 20] [--runs 5] [--compare OLD_TREE] [--client-digests]

The agent is the real `sealbridge agent`, a process of its own as in use (the browser is another), on a
loopback port with a real soft token. The round trip, timed by the client: upload in 4 MiB frames, the
`stamp` call, page count, the approval step, the soft token's PIN login (a memory-hard KDF, also timed
alone), the stamp, the audit record, the download of the result. The client does what the extension does
(extension/background/agent-client.js): no SM3 of its own in the docRef (it is optional) and the result
checked by chunk count and size; the agent's whole work counts, its SM3 of the upload (shown in the
approval window and audited) and of the result included. `--client-digests` makes the client also hash the
upload and check the result's SM3 as agent.client does by default. Outside the timed part every result is
checked to begin with the upload and to have the SM3 the agent reported.

`--compare OLD_TREE` runs a second agent from another source tree (e.g. `git archive main | tar -x -C DIR`)
with the same client, interleaved with this tree's, and prints its figures beside.

Peak RSS is the agent's high-water mark during a round trip above its resident size just before it (Linux:
/proc/PID/clear_refs resets the mark), as a multiple of the document; the resident size after the runs,
above the agent's size once it had started, is the memory it keeps between requests until it is idle
(agent/server/heap.py). CPU is the agent process's user +
system time for the round trip, and the client's; page faults, the pages the system handed the agent
afresh during it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import mmap
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.client import AgentClient  # noqa: E402
from agent.devpki import make_dev_pki  # noqa: E402
from devkit.agent_log import wait_for_log_event  # noqa: E402
from devkit.material import big_pdf  # noqa: E402
from devkit.ports import free_port  # noqa: E402
from devkit.processes import page_faults, stop_process  # noqa: E402
from formats.gm import sm3  # noqa: E402

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
SITE = "https://bench.example.cn"
ORIGIN = {"top": SITE, "frame": SITE}
PLACE = [{"type": "at", "page": 1, "x": 100, "y": 120}]
#: The agents' idle time before they give back the memory they keep (far above the gap between two rounds).
IDLE_RELEASE_S = 5


def direct(data: bytes, signer, seal_der: bytes) -> float:
    from stamping.options import StampOptions
    from stamping.pdf.stamp import stamp
    from stamping.placement import from_dict

    start = time.perf_counter()
    out = io.BytesIO()
    stamp(data, out, signer, seal_der, [from_dict(p) for p in PLACE], StampOptions())
    return time.perf_counter() - start


def start_agent(home: Path, token: Path, tree: Path = REPO) -> subprocess.Popen:
    home.mkdir(parents=True)
    # A tree from before agent/server/heap.py does not know the key (--compare).
    knows_idle = "idle_memory_release_s" in (tree / "agent" / "config.py").read_text()
    (home / "config.toml").write_text(
        f'port = {free_port()}\nallowed_origins = ["{EXT}"]\nsoft_tokens = ["{token}"]\n'
        + (f"idle_memory_release_s = {IDLE_RELEASE_S}\n" if knows_idle else "")
        + f'require_platform = false\n[site_policy]\n"{SITE}" = "allowed"\n'
        "[limits]\nrequests_per_minute = 100000\n"
    )
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(tree))
    log = open(home / "agent.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealbridge", "agent"], cwd=tree, env=env, stdout=log, stderr=log
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kdf_memory(token: Path) -> int:
    """argon2id's working memory: every login allocates it, whatever the document's size."""
    return json.loads(token.read_text())["kdf"]["memory_kib"] * 1024


class PeakRss:
    """The agent's resident memory high-water mark during a round trip above its resident size just before
    it, and its resident size now and when it had started (Linux)."""

    def __init__(self, pid: int):
        self.proc = Path(f"/proc/{pid}")
        self.base = 0
        self.at_start = self.resident_bytes()

    def _kib(self, field: str) -> int:
        try:
            for line in (self.proc / "status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
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

    def resident_bytes(self) -> int:
        return self._kib("VmRSS") * 1024


def given_back(home: Path) -> dict | None:
    """The agent's log record saying it gave its kept memory back once idle (None if none came in time)."""
    found = wait_for_log_event(home, "memory_given_back", timeout=3 * IDLE_RELEASE_S)
    return found[0] if found else None


@dataclass
class Agent:
    """One running agent under test, and what its round trips measured."""

    name: str
    home: Path
    proc: subprocess.Popen
    rss: PeakRss
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    peaks: list[int | None] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    rss_after: int = 0
    given_back: dict | None = None

    async def round_trip(self, data: bytes, seal_id: str, pin: str, digests: bool) -> None:
        self.rss.reset()
        async with await AgentClient.connect_home(self.home, origin=EXT) as c:
            cpu0, client0 = cpu_seconds(self.proc.pid), time.process_time()
            faults0 = page_faults(self.proc.pid)
            start = time.perf_counter()
            out, res = await c.stamp(
                data, PLACE, ORIGIN, approve=lambda req: (seal_id, pin), timeout_s=300, digests=digests
            )
            elapsed = time.perf_counter() - start
            cpu, client = cpu_seconds(self.proc.pid) - cpu0, time.process_time() - client0
            self.faults.append(page_faults(self.proc.pid) - faults0)
        self.peaks.append(self.rss.extra_bytes())
        if not out.startswith(data):
            raise SystemExit(f"{self.name}: the result is not an incremental update of the upload")
        if sm3(out).hex() != res["document"]["sm3"]:
            raise SystemExit(f"{self.name}: the result's SM3 is not the one the agent reported")
        self.wall.append(elapsed)
        self.cpu.append(cpu)
        self.client_cpu.append(client)

    def best(self) -> tuple[float, float, float]:
        """(wall, agent CPU, client CPU) of the fastest round trip."""
        i = min(range(len(self.wall)), key=self.wall.__getitem__)
        return self.wall[i], self.cpu[i], self.client_cpu[i]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--compare", type=Path, help="another source tree whose agent is measured in the same run"
    )
    ap.add_argument(
        "--client-digests",
        action="store_true",
        help="the client hashes the upload and checks the result's SM3",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pki = make_dev_pki(Path(tmp) / "pki")
        data = big_pdf(int(args.mb * 1024 * 1024))
        from agent.tokens.soft import SoftToken

        token = SoftToken(pki.tokens["sm2"])
        kdf_bytes = kdf_memory(pki.tokens["sm2"])
        signer = token.signer(pki.pin)
        seal_der = token.info().seals[0]
        trees = {"this tree": REPO, **({"compared tree": args.compare.resolve()} if args.compare else {})}
        agents: list[Agent] = []
        seal_id, pin = pki.seal_ids["sm2"], pki.pin
        try:
            for i, (name, tree) in enumerate(trees.items()):
                proc = start_agent(Path(tmp) / f"home{i}", pki.tokens["sm2"], tree)
                agents.append(Agent(name, Path(tmp) / f"home{i}", proc, PeakRss(proc.pid)))
            await asyncio.to_thread(direct, data, signer, seal_der)  # warm-up (imports, OIDs), both sides
            for agent in agents:
                await agent.round_trip(data, seal_id, pin, args.client_digests)
                agent.wall.clear(), agent.cpu.clear(), agent.client_cpu.clear(), agent.peaks.clear()
                agent.faults.clear()
            sm3_t, login_t, direct_t, direct_cpu = [], [], [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                sm3(data)
                sm3_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                token.signer(pin)
                login_t.append(time.perf_counter() - t0)
                c0 = time.process_time()
                direct_t.append(
                    await asyncio.to_thread(direct, data, signer, seal_der)
                )  # stamp() runs its own loop
                direct_cpu.append(time.process_time() - c0)
                for agent in agents:
                    await agent.round_trip(data, seal_id, pin, args.client_digests)
            for agent in agents:
                agent.rss_after = agent.rss.resident_bytes()
            for agent in agents:
                agent.given_back = await asyncio.to_thread(given_back, agent.home)
        finally:
            for agent in agents:
                stop_process(agent.proc)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    s, login_s, d = min(sm3_t), min(login_t), min(direct_t)
    d_cpu = direct_cpu[direct_t.index(d)]
    size_mb = len(data) / 1e6
    ours = agents[0]
    a, a_cpu, a_client = ours.best()
    client = "hashes the upload and checks the result's SM3" if args.client_digests else "as the extension"
    print(f"document: {size_mb:.1f} MB PDF, best of {args.runs} runs each, interleaved; client: {client}")
    print(f"load average (1/5/15 min) at the end:    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"SM3 of the document:                     {s * 1000:8.1f} ms")
    print(f"soft token PIN login (in the round trip): {login_s * 1000:8.1f} ms")
    print(f"direct stamp() call:                     {d * 1000:8.1f} ms  (CPU {d_cpu * 1000:.0f} ms)")
    print(f"direct stamp + login:                    {(d + login_s) * 1000:8.1f} ms")
    for agent in agents:
        wall, cpu, client_cpu = agent.best()
        where = "" if agent is ours else f" ({agent.name})"
        print(
            f"through the agent WebSocket{where}:".ljust(41)
            + f"{wall * 1000:8.1f} ms  ({size_mb / wall:.1f} MB/s end to end; "
            f"CPU: agent {cpu * 1000:.0f} ms, client {client_cpu * 1000:.0f} ms)"
        )
        print(f"  every run{where}: " + " ".join(f"{w * 1000:.0f}" for w in agent.wall) + " ms")
        known = [p for p in agent.peaks if p is not None]
        if known:
            worst = max(known)
            rest = max(0, worst - kdf_bytes)
            print(
                f"agent peak RSS above idle{where} (worst run): {worst / 1e6:6.1f} MB  "
                f"({worst / len(data):.2f}x the document)"
            )
            print(
                f"  less the PIN KDF's own memory ({kdf_bytes / 1e6:.1f} MB):  {rest / 1e6:8.1f} MB  "
                f"({rest / len(data):.2f}x the document)"
            )
        print(
            f"  resident after the runs{where}: {(agent.rss_after - agent.rss.at_start) / 1e6:.1f} MB above "
            f"its start; page faults per round trip (fresh {mmap.PAGESIZE // 1024} KiB pages): median "
            f"{statistics.median(agent.faults):.0f}"
        )
        back = agent.given_back or {}
        if back.get("resident_before") and back.get("resident_after"):
            print(
                f"  idle {IDLE_RELEASE_S} s, it gave memory back{where}: resident "
                f"{back['resident_before'] / 1e6:.1f} -> {back['resident_after'] / 1e6:.1f} MB "
                f"(at its start {agent.rss.at_start / 1e6:.1f} MB)"
            )
        else:
            print(f"  idle {IDLE_RELEASE_S} s{where}: no memory given back")
    print(f"ratio agent / direct:                    {a / d:8.2f}")
    print(f"ratio agent / (direct + login):          {a / (d + login_s):8.2f}")
    # Each round's own ratio, against the direct stamp and login of that round, seconds apart: the best of
    # each (above) may come from different moments of a machine whose speed wanders.
    paired = sorted(w / (dt + lt) for w, dt, lt in zip(ours.wall, direct_t, login_t, strict=True))
    print(
        f"  per round, agent / (that round's direct + login): median {statistics.median(paired):.2f}, "
        f"best {paired[0]:.2f}, worst {paired[-1]:.2f}"
    )
    for agent in agents[1:]:
        print(f"ratio agent ({agent.name}) / (direct + login): {agent.best()[0] / (d + login_s):8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
