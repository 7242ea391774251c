"""The real `sealbridge agent` process: runtime file, native-messaging host, pairing code, and SIGKILL in the
middle of a stamp (restart → the audit chain verifies, no partial file anywhere)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from agent.client import AgentClient
from agent.config import load_config
from agent.pairing import parse_pairing_code
from devkit.material import big_pdf
from tests.support.agent_env import EXT, PORTAL, free_port
from tests.support.agent_process import REPO, SEALBRIDGE, AgentProcess, write_home

FIREFOX_ORIGIN = "moz-extension://6f1c1a52-1f0e-4b7e-9a55-0c5b2e1d4f11"


def snapshot(*dirs: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for d in dirs for p in d.rglob("*") if p.is_file()}


@pytest.fixture
def agent_proc(tmp_path, soft_token):
    home = tmp_path / "home"
    write_home(home, soft_token, free_port())
    proc = AgentProcess(home)
    yield proc
    proc.stop()


async def test_sigkill_mid_stamp_then_restart(agent_proc, soft_token, dev_pki):
    info = agent_proc.start()
    cfg = load_config(env={"SEALBRIDGE_HOME": str(agent_proc.home)})
    secret = bytes.fromhex(cfg.secret_path.read_text().strip())
    before = snapshot(soft_token.parent)
    data = await asyncio.to_thread(big_pdf, 12 * 1024 * 1024)

    c = await AgentClient.authed(info["url"], EXT, secret)
    ref = await c.upload(data, chunk=1024 * 1024)
    fut = await c.start(
        "stamp",
        {"origin": PORTAL, "document": ref, "placements": [{"type": "at", "page": 1, "x": 60, "y": 60}]},
    )
    req = await c.next_event("approval.required")
    approve = await c.start(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    await c.next_event("progress", where=lambda p: p["phase"] == "signing")
    killed_pid = agent_proc.proc.pid
    agent_proc.kill()  # SIGKILL while the document is being signed
    await asyncio.wait_for(c.closed.wait(), 10)
    assert fut.done() and isinstance(fut.exception(), ConnectionError)
    assert approve.done()
    assert not c.results or all(len(b"".join(v)) < len(data) for v in c.results.values())

    # Nothing half-written: the token directory is exactly as before; in the agent's home at most the temp
    # file the killed agent was writing (its pid in the name), which the next write to that file removes.
    assert snapshot(soft_token.parent) == before

    def leftovers() -> list[Path]:
        return [
            p
            for p in agent_proc.home.rglob("*")
            if p.is_file() and (".tmp" in p.name or p.name.startswith("."))
        ]

    assert all(f".{killed_pid}-" in p.name and p.name.endswith(".tmp") for p in leftovers()), leftovers()

    # Restart: the chain verifies, it shows the approval without a stamp result, and stamping works again.
    info = agent_proc.start()
    env = dict(os.environ, SEALBRIDGE_HOME=str(agent_proc.home), PYTHONPATH=str(REPO))
    res = await asyncio.to_thread(
        subprocess.run,
        [*SEALBRIDGE, "audit", "verify", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    check = json.loads(res.stdout)
    assert check["ok"]
    c2 = await AgentClient.authed(info["url"], EXT, secret)
    records = (await c2.call("audit.recent", {"limit": 20}))["records"]
    # The approval is always there. The stamp starts with the token's login and may be finished (and logged)
    # before the kill lands; whichever it was, the client never got a whole result.
    events = [r["event"] for r in reversed(records)]
    assert events in (["approval"], ["approval", "stamp"]), events
    ref = await c2.upload(await asyncio.to_thread(big_pdf, 100_000))
    fut = await c2.start(
        "stamp",
        {"origin": PORTAL, "document": ref, "placements": [{"type": "at", "page": 1, "x": 60, "y": 60}]},
    )
    req = await c2.next_event("approval.required")
    await c2.call(
        "approve", {"request_id": req["request_id"], "seal_id": dev_pki.seal_ids["sm2"], "pin": dev_pki.pin}
    )
    result = await asyncio.wait_for(fut, 60)
    assert c2.result_bytes(result["document"])
    assert not c2.frame_errors
    await c2.close()
    res = await asyncio.to_thread(
        subprocess.run,
        [*SEALBRIDGE, "audit", "verify", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0 and json.loads(res.stdout)["count"] == len(events) + 2
    assert leftovers() == []


def native_call(home: Path, message: dict, caller: str) -> dict:
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    body = json.dumps(message).encode()
    res = subprocess.run(
        [*SEALBRIDGE, "native-host", caller],
        input=struct.pack("=I", len(body)) + body,
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    (length,) = struct.unpack("=I", res.stdout[:4])
    return json.loads(res.stdout[4 : 4 + length])


async def test_native_host_pairs_chrome_and_registers_firefox(agent_proc):
    info = agent_proc.start()
    home = agent_proc.home
    reply = await asyncio.to_thread(native_call, home, {"type": "getPairing"}, EXT + "/")
    assert reply["type"] == "pairing" and reply["port"] == info["port"] and reply["running"]
    secret = bytes.fromhex(reply["secret"])
    c = await AgentClient.authed(reply["url"], EXT, secret)  # the secret from the host works
    await c.close()

    refused = await asyncio.to_thread(
        native_call, home, {"type": "getPairing"}, "chrome-extension://" + "p" * 32 + "/"
    )
    assert refused["type"] == "error" and refused["error"]["code"] == "ORIGIN_NOT_ALLOWED"

    # Firefox: the per-install moz-extension origin is registered by the host, then it may connect.
    reply = await asyncio.to_thread(
        native_call, home, {"type": "getPairing", "origin": FIREFOX_ORIGIN}, str(home / "manifest.json")
    )
    assert reply["type"] == "pairing"
    c = await AgentClient.authed(info["url"], FIREFOX_ORIGIN, bytes.fromhex(reply["secret"]))
    assert (await c.call("hello", {}))["agent"] == "sealbridge"
    await c.close()


def test_pair_prints_a_code_carrying_port_and_secret(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    res = subprocess.run(
        [*SEALBRIDGE, "pair", "--json", "--offline", "--origin", FIREFOX_ORIGIN],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    port, secret = parse_pairing_code(out["code"])
    cfg = load_config(env={"SEALBRIDGE_HOME": str(home)})
    assert port == cfg.port == 18600
    assert secret == bytes.fromhex(cfg.secret_path.read_text().strip())
    from agent.pairing import paired_origins

    assert FIREFOX_ORIGIN in paired_origins(cfg)


_AGENT_OWNER = """
import sys
from pathlib import Path
from tests.support.agent_process import AgentProcess
info = AgentProcess(Path(sys.argv[1])).start()
print(info["pid"], flush=True)
sys.stdin.read()  # until the test kills this process
"""


def test_an_agent_started_for_a_test_ends_when_the_test_process_is_killed(tmp_path, soft_token) -> None:  # type: ignore[no-untyped-def]
    """A test run killed by a CI timeout or Ctrl-C runs no fixture clean-up: its agents end with it anyway."""
    home = tmp_path / "home"
    write_home(home, soft_token, free_port())
    owner = subprocess.Popen(
        [sys.executable, "-c", _AGENT_OWNER, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    agent = 0
    try:
        agent = int(owner.stdout.readline())  # type: ignore[union-attr]
        pidfd = os.pidfd_open(agent)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    try:
        assert select.select([pidfd], [], [], 30)[0], "the agent outlived the process that started it"
    finally:
        os.close(pidfd)
        if agent:
            with contextlib.suppress(OSError):
                os.kill(agent, signal.SIGKILL)  # whatever is left when the test fails
