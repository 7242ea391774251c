"""Start a real `sealbridge central` process on 127.0.0.1 for tests (this suite and the agent's).

    url, admin_token, handle = start_central(tmp_path)          # SQLite file in tmp_path
    ...
    handle.stop(); handle.start()                               # same port, same database
    handle.close()

`register_seal(url, token, cert_der)` files a company + imprint and makes a seal bound to that certificate.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEALBRIDGE = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]
TEST_USCC = "91350100M000100Y43"


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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
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


# -- small synchronous HTTP helpers (tests and fixtures; the async client is agent.platform_client) --------
def http(
    method: str, url: str, body: Any = None, token: str | None = None, raw: bytes | None = None
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def imprint_png(size: int = 120) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    ImageDraw.Draw(img).ellipse((4, 4, size - 4, size - 4), outline=(220, 0, 0, 255), width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_cert(common_name: str = "张三", days: int = 365) -> tuple[Any, bytes]:
    """(SM2PrivateKey, self-signed certificate DER) for a seal holder."""
    from formats.gm import SM2PrivateKey
    from formats.x509 import build_certificate

    key = SM2PrivateKey.generate()
    now = datetime.now(UTC)
    cert = build_certificate(
        {"common_name": common_name, "organization_name": "测试有限公司"},
        key.public_key,
        None,
        key,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
    )
    return key, cert


def register_seal(
    url: str,
    token: str,
    cert_der: bytes,
    *,
    uscc: str = TEST_USCC,
    kind: str = "contract",
    name: str = "测试有限公司合同专用章",
    holder: str = "张三",
    esid: str | None = None,
) -> dict[str, Any]:
    """Company (reused if present) + imprint + seal bound to cert_der; returns the seal JSON (seal_der base64)."""
    status, company = http(
        "POST", f"{url}/api/v1/admin/companies", {"uscc": uscc, "name": "测试有限公司"}, token
    )
    if status == 409:
        status, company = http("GET", f"{url}/api/v1/admin/companies/{uscc}", token=token)
    assert status in (200, 201), company
    status, imprint = http(
        "POST",
        f"{url}/api/v1/admin/companies/{company['id']}/imprints",
        {"name": name, "picture_type": "png", "picture": b64(imprint_png()), "width_mm": 40, "height_mm": 40},
        token,
    )
    assert status == 201, imprint
    body = {
        "company": uscc,
        "imprint_id": imprint["id"],
        "kind": kind,
        "name": name,
        "holder": holder,
        "certs": [b64(cert_der)],
    }
    if esid:
        body["esID"] = esid
    status, seal = http("POST", f"{url}/api/v1/admin/seals", body, token)
    assert status == 201, seal
    return seal
