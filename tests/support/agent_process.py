"""The real `sealbridge agent` as a child process with its own home (config, runtime file, log)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devkit.processes import stop_process
from sealbridge.parent_death import request_for_child
from tests.support.agent_env import EXT, PORTAL

REPO = Path(__file__).resolve().parents[2]
SEALBRIDGE = [sys.executable, "-m", "sealbridge"]


def write_home(home: Path, token: Path, port: int, settings: str = "") -> Path:
    """The agent's home with its config; `settings`: more top-level TOML lines."""
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "config.toml"
    cfg.write_text(
        f'port = {port}\nallowed_origins = ["{EXT}"]\nsoft_tokens = ["{token}"]\nrequire_platform = false\n'
        f'{settings}[site_policy]\n"{PORTAL["top"]}" = "allowed"\n'
    )
    return cfg


class AgentProcess:
    def __init__(self, home: Path):
        self.home = home
        self.proc: subprocess.Popen | None = None

    def start(self) -> dict:
        # Dies with this process (a test run killed by a timeout or Ctrl-C leaves no agent behind).
        env = dict(os.environ, SEALBRIDGE_HOME=str(self.home), PYTHONPATH=str(REPO), **request_for_child())
        log = open(self.home / "agent.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([*SEALBRIDGE, "agent"], cwd=REPO, env=env, stdout=log, stderr=log)
        runtime = self.home / "run" / "agent.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.home / "agent.log").read_text()[-3000:])
            if runtime.exists():
                info = json.loads(runtime.read_text())
                if info["pid"] == self.proc.pid:
                    return info
            time.sleep(0.05)
        raise RuntimeError("agent did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)
