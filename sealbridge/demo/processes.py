"""The demo's child processes (central platform, agent): start, wait until ready, stop — always.

Each child runs in its own session (process group), so a Ctrl-C in the terminal reaches only the demo, which
then stops its children in reverse order: SIGTERM to the group, SIGKILL after a grace period. `stop_all` is
idempotent and also registered with atexit, so no child outlives the demo on any exit path it sees.

A SIGKILLed demo sees none: on Linux each child is asked to die with the demo (sealbridge.parent_death,
PR_SET_PDEATHSIG), which ties the child to the *thread* that started it, so `Children.start` runs only on the
main thread (it lives as long as the demo). Elsewhere a SIGKILLed demo leaves its children running.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from formats.errors import SealBridgeError
from sealbridge.parent_death import request_for_child

STOP_GRACE_S = 10.0


def sealbridge_command(*args: str) -> list[str]:
    """`sealbridge ARGS…` with this very interpreter (works from a source tree and from an install)."""
    return [sys.executable, "-m", "sealbridge", *args]


def source_root() -> Path:
    """The directory holding the `agent` package (the repository root in a source checkout)."""
    import agent

    return Path(agent.__file__).resolve().parent.parent


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a `sealbridge` child: this source tree first, and (Linux) asked to die with us."""
    env = dict(os.environ)
    root = str(source_root())
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("SEALBRIDGE_HOME", None)
    env.update(request_for_child())
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Child:
    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str], cwd: Path):
        self.name, self.cmd, self.log, self.env, self.cwd = name, cmd, log, env, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 2500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll `ready()` until it holds; fail with the log tail if the child dies or takes too long."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise SealBridgeError(
                    "INTERNAL", f"{self.name} exited ({code}) while starting:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            if time.monotonic() > deadline:
                raise SealBridgeError(
                    "INTERNAL", f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        # Anything the child left in its group (it has none by design) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class Children:
    """The started children, stopped in reverse order of starting."""

    def __init__(self) -> None:
        self.items: list[Child] = []
        atexit.register(self.stop_all)

    def start(self, child: Child) -> Child:
        if threading.current_thread() is not threading.main_thread():
            # Linux would kill the child when this thread ends (parent death is per thread), long before the
            # demo does; a worker thread may wait for it to be ready, never start it.
            raise RuntimeError("demo children are started from the main thread")
        self.items.append(child)
        child.start()
        return child

    def stop_all(self) -> None:
        # Signals arriving now must not interrupt the cleanup half-way.
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                previous[sig] = signal.signal(sig, signal.SIG_IGN)
        try:
            while self.items:
                self.items.pop().stop()
        finally:
            for sig, handler in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, handler)
