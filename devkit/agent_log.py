"""Reading a running agent's log (`$SEALBRIDGE_HOME/agent.log`, one JSON record per line) for the events it
decides the moment of, such as giving its memory back once idle: for tests and benchmarks."""

from __future__ import annotations

import json
import time
from pathlib import Path


def log_events(home: Path, event: str) -> list[dict]:
    """The agent's log records of this event, so far."""
    lines = (home / "agent.log").read_text(errors="replace").splitlines()
    records = (json.loads(line) for line in lines if line.startswith("{"))
    return [rec for rec in records if rec.get("event") == event]


def wait_for_log_event(home: Path, event: str, timeout: float = 60) -> list[dict]:
    """The log records of `event` once there is one (polled, as a runtime file is); none after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    while not (found := log_events(home, event)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found
