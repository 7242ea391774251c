"""The real `sealbridge central` platform as a child process on 127.0.0.1 (tests and benchmarks).

url, admin_token, handle = start_central(tmp_path)          # SQLite file in tmp_path
...
handle.stop(); handle.start()                               # same port, same database
handle.close()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devkit.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
SEALBRIDGE = [sys.executable, "-m", "sealbridge"]


@dataclass
class CentralHandle:
    db_url: str
    key_dir: Path
    workdir: Path
    port: int = 0
    rate: float = 0.0
    burst: int = 100
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "central.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        ready = self.workdir / "central.ready"
        ready.unlink(missing_ok=True)
        cmd = [
            *SEALBRIDGE,
            "central",
            "--db",
            self.db_url,
            "--key-dir",
            str(self.key_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--rate",
            str(self.rate),
            "--burst",
            str(self.burst),
            "--ready-file",
            str(ready),
        ]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"central exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"central did not start in {timeout} s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        self.port = int(ready.read_text().split()[1])
        return self.url

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    close = stop


def create_admin_token(db_url: str, name: str = "tests") -> str:
    from central import admin_tokens, migrations
    from central.db import Database

    db = Database(db_url, workers=1)
    try:
        migrations.migrate(db)
        return db.run_sync(admin_tokens.create_token, name, "tests")["token"]
    finally:
        db.close()


def start_central(
    tmp_path: Path, db_url: str | None = None, rate: float = 0.0, burst: int = 100
) -> tuple[str, str, CentralHandle]:
    """A running central platform (SQLite file in tmp_path unless db_url is given), with an admin token."""
    workdir = Path(tmp_path) / "central"
    workdir.mkdir(parents=True, exist_ok=True)
    db_url = db_url or str(workdir / "central.db")
    handle = CentralHandle(db_url=db_url, key_dir=workdir / "keys", workdir=workdir, rate=rate, burst=burst)
    token = create_admin_token(db_url)
    handle.start()
    return handle.url, token, handle
