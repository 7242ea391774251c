"""`sealbridge demo`: the whole journey as a subprocess (real central platform, real agent, real soft token),
then a re-run on the same directory that keeps the portal up until Ctrl-C; no process may outlive it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.proc_table import identity, processes_mentioning, wait_gone, wait_processes_gone

REPO = Path(__file__).resolve().parents[2]
SEALBRIDGE = [sys.executable, "-m", "sealbridge"]

JOURNEY_STEPS = [
    "Connect to the agent",
    "List the seals on the key",
    "PDF: official seal at keyword",
    "PDF: legal-representative seal by coordinates",
    "OFD: contract seal at keyword",
    "OFD: legal-representative seal by coordinates",
    "Verify the stamped PDF",
    "Verify the stamped OFD",
    "Revoke the contract seal at the central platform",
    "Stamp with the revoked contract seal: the agent refuses",
    "Re-verify the OFD",
    "Read the audit log",
]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop("SEALBRIDGE_HOME", None)
    return env


@dataclass
class FirstRun:
    dir: Path
    proc: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """`sealbridge demo --once` on a fresh directory, run once for the module; each test that needs a
    directory a demo already ran in takes it from here, so the tests run in any order."""
    demo_dir = tmp_path_factory.mktemp("demo") / "run"
    proc = subprocess.run(
        [*SEALBRIDGE, "demo", "--once", "--dir", str(demo_dir)],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return FirstRun(demo_dir, proc)


@pytest.mark.slow
def test_demo_once_runs_the_whole_journey(first_run: FirstRun) -> None:
    demo_dir, proc = first_run.dir, first_run.proc
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-6000:]}\n{proc.stderr[-3000:]}"
    # Every journey step printed, in order, each with its expected result.
    positions = [out.find(step) for step in JOURNEY_STEPS]
    assert all(p >= 0 for p in positions), [s for s, p in zip(JOURNEY_STEPS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert out.count("OK   符合预期") == len(JOURNEY_STEPS)
    assert "FAIL" not in out
    assert "agent answered SEAL_REVOKED" in out
    assert re.search(r"PIN: \d{6}", out)
    assert "every step gave the expected result" in out
    # The stamped documents and the reports are real files with the expected verdicts.
    docs = demo_dir / "documents"
    assert (docs / "form-stamped.pdf").read_bytes().startswith((docs / "form.pdf").read_bytes())
    assert (docs / "form-stamped.ofd").read_bytes()[:2] == b"PK"
    for fmt, n_seals in (("pdf", 3), ("ofd", 2)):
        report = json.loads((docs / f"report-{fmt}.json").read_text())
        assert report["verdict"] == "valid" and len(report["seals"]) == n_seals
        assert all(s["checks"]["platform_status"]["status"] == "ok" for s in report["seals"])
    after = json.loads((docs / "report-ofd-after-revocation.json").read_text())
    assert any("revoked" in s["checks"]["platform_status"]["detail"] for s in after["seals"])
    # Nothing left running, and the run marker is gone.
    assert wait_gone(str(demo_dir)) == []
    assert not (demo_dir / "demo.pid").exists()


def _start_demo(demo_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """`sealbridge demo` (kept running) in the background, its output going to `log`."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [*SEALBRIDGE, "demo", "--dir", str(demo_dir)],
            cwd=REPO,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for_log(proc: subprocess.Popen[bytes], log: Path, done: Callable[[str], bool]) -> str:
    """The demo's output once `done` holds for it; fails if the demo ends first or takes over 150 s."""
    deadline = time.monotonic() + 150
    while not done(text := log.read_text()):
        assert proc.poll() is None, text[-5000:]
        assert time.monotonic() < deadline, text[-5000:]
        time.sleep(0.1)
    return text


def _get(url: str) -> tuple[int, bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read(), resp.headers.get("Content-Type", "")


@pytest.mark.slow
def test_demo_rerun_keeps_portal_until_ctrl_c(first_run: FirstRun) -> None:
    """A second run on the same directory recreates it, serves the portal, and Ctrl-C stops everything."""
    demo_dir = first_run.dir
    assert first_run.proc.returncode == 0, first_run.proc.stdout[-3000:]
    marker = demo_dir / "chromium-profile" / "keep.txt"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("browser profile survives a re-run")
    log = demo_dir.parent / "rerun.log"
    proc = _start_demo(demo_dir, log)
    try:
        text = _wait_for_log(proc, log, lambda text: "press Ctrl-C" in text)
        assert "every step gave the expected result" in text, text[-6000:]
        portal = re.search(r"门户 / portal: (http://127\.0\.0\.1:\d+/)", text).group(1)
        status, body, ctype = _get(portal)
        assert status == 200 and "盖章" in body.decode() and ctype.startswith("text/html")
        status, body, ctype = _get(portal + "sdk/sealbridge.js")
        assert body == (REPO / "extension/sdk/sealbridge.js").read_bytes() and "javascript" in ctype
        status, body, _ = _get(portal + "samples/form.pdf")
        assert body.startswith(b"%PDF")
        facts = json.loads(_get(portal + "demo.json")[1])
        assert {s["role"] for s in facts["seals"]} == {"official", "contract", "position"}
        assert [s["revoked"] for s in facts["seals"] if s["role"] == "contract"] == [True]
        # How to open it in Chromium with the extension, and the pairing files it needs.
        assert f"--load-extension={REPO / 'extension'}" in text
        manifest = json.loads(
            (demo_dir / "chromium-profile/NativeMessagingHosts/cn.sealbridge.agent.json").read_text()
        )
        wrapper = Path(manifest["path"])
        assert wrapper.is_file() and os.access(wrapper, os.X_OK) and "native-host" in wrapper.read_text()
        assert manifest["allowed_origins"] == ["chrome-extension://bcmacoahbnnfcbanjcodgfddjeoejknn/"]
        # The wrapper is the real native-messaging host: it hands the extension the running agent's port + secret.
        request = json.dumps({"type": "getPairing"}).encode()
        reply = subprocess.run(
            [str(wrapper), "chrome-extension://bcmacoahbnnfcbanjcodgfddjeoejknn/"],
            input=struct.pack("=I", len(request)) + request, capture_output=True, timeout=60,
        )  # fmt: skip
        pairing = json.loads(reply.stdout[4:])
        secret = (demo_dir / "home/data/pairing.secret").read_text().strip()
        assert pairing["type"] == "pairing" and pairing["secret"] == secret and pairing["running"] is True
        assert f"ws://127.0.0.1:{pairing['port']}/v1" in text
        assert marker.exists()
        assert len(processes_mentioning(str(demo_dir))) >= 2  # the platform and the agent are up
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:  # a failed assertion above: stop it as Ctrl-C would, so its children go too
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    assert wait_gone(str(demo_dir)) == []
    assert "stopped" in log.read_text()


def test_demo_refuses_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "important.txt").write_text("not a demo directory")
    proc = subprocess.run(
        [*SEALBRIDGE, "demo", "--once", "--dir", str(tmp_path)],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "CONFLICT" in proc.stderr
    assert (tmp_path / "important.txt").exists() and len(list(tmp_path.iterdir())) == 1


@pytest.mark.slow
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="dying with the parent is Linux only (documented)"
)
def test_a_sigkilled_demo_takes_every_child_along(tmp_path: Path) -> None:
    """SIGKILL runs none of the demo's clean-up: its children must still go (PR_SET_PDEATHSIG), every one it had
    started, the platform and the agent included."""
    demo_dir = tmp_path / "run"
    log = tmp_path / "demo.log"
    proc = _start_demo(demo_dir, log)
    try:
        # The agent is the last child started; its line is printed once it listens.
        text = _wait_for_log(proc, log, lambda text: len(re.findall(r"\bpid \d+", text)) >= 2)
        started = re.findall(r"\bpid (\d+)", text)
        platform_pid, agent_pid = (int(p) for p in started[:2])
        children = {pid for pid, _ in processes_mentioning(str(demo_dir))} - {proc.pid}
        assert {platform_pid, agent_pid} <= children, (started, children)
        alive = [i for pid in sorted(children) if (i := identity(pid)) is not None]
        assert len(alive) == len(children)
        assert proc.poll() is None  # still running: SIGKILL, not a clean exit, must end the children
        proc.kill()
        assert proc.wait(10) == -signal.SIGKILL
        assert wait_processes_gone(alive, timeout=15) == []
        assert wait_gone(str(demo_dir)) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid, _ in processes_mentioning(str(demo_dir)):  # a failed run: leave nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
