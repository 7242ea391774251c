"""The demo's central platform: start `sealbridge central` (SQLite) and register the demo company's seals
through its admin HTTP API, as a platform operator would (company + USCC, filed imprints, seals made and
signed by the platform, bound to the holder's certificate; later the revocation)."""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from formats.errors import SealBridgeError
from sealbridge.demo.processes import Child, Children, child_env, sealbridge_command


@dataclass(frozen=True)
class SealPlan:
    """One seal the demo company files at the platform."""

    role: str  # "official" | "contract" | "position"
    kind: str  # central kind name (formats.ses.SealKind)
    name: str
    holder: str
    imprint_label: str  # text drawn under the star
    signer: str  # which dev-PKI signer certificate the seal is bound to
    zh: str
    en: str


def seal_plans(company: str) -> list[SealPlan]:
    return [
        SealPlan(
            "official", "legal_name", company, company, "", "sm2", "公章（法定名称章）", "official seal"
        ),
        SealPlan(
            "contract",
            "contract",
            f"{company}合同专用章",
            company,
            "合同专用章",
            "sm2",
            "合同专用章",
            "contract seal",
        ),
        SealPlan(
            "position",
            "position",
            f"{company}法定代表人章",
            "李明（法定代表人）",
            "法定代表人",
            "sm2b",
            "法定代表人职务章",
            "legal-representative seal",
        ),
    ]


class CentralPlatform:
    """A running central platform and an admin session on it."""

    def __init__(self, workdir: Path, children: Children):
        self.workdir = workdir
        self.db = workdir / "central.db"
        self.key_dir = workdir / "keys"
        self.ready_file = workdir / "central.ready"
        self.children = children
        self.child: Child | None = None
        self.url = ""
        self.port = 0
        self._token = ""
        self._http: aiohttp.ClientSession | None = None

    # -- process ---------------------------------------------------------------------------------------

    def create_admin_token(self) -> None:
        """An admin API token, made with `sealbridge central admin create-token` before the server starts."""
        cmd = sealbridge_command(
            "central", "admin", "create-token", "--db", str(self.db), "--key-dir", str(self.key_dir),
            "--name", "demo", "--json",
        )  # fmt: skip
        proc = subprocess.run(cmd, env=child_env(), capture_output=True, timeout=60, cwd=self.workdir)
        try:
            self._token = json.loads(proc.stdout)["token"]
        except (ValueError, KeyError, TypeError):
            raise SealBridgeError(
                "INTERNAL", f"central admin create-token failed ({proc.returncode}): {proc.stderr[-1500:]!r}"
            ) from None
        (self.workdir / "admin-token").write_text(self._token + "\n")
        (self.workdir / "admin-token").chmod(0o600)

    def launch(self, port: int) -> None:
        """Start the server process (on the main thread: see Children.start); `wait_started` waits for it."""
        self.ready_file.unlink(missing_ok=True)
        cmd = sealbridge_command(
            "central", "--db", str(self.db), "--key-dir", str(self.key_dir), "--host", "127.0.0.1",
            "--port", str(port), "--ready-file", str(self.ready_file),
        )  # fmt: skip
        self.child = self.children.start(
            Child("central platform", cmd, self.workdir / "central.log", child_env(), self.workdir)
        )

    def wait_started(self) -> None:
        """Block until the launched server listens (any thread); its URL is known from then on."""
        assert self.child is not None, "launch() first"
        self.child.wait_ready(lambda: len(self.ready_file.read_text().split()) >= 2, timeout=45)
        self.port = int(self.ready_file.read_text().split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def status_cert(self) -> Path:
        """The platform's status-signing certificate, pinned in the agent's config."""
        return self.key_dir / "status.cert.der"

    # -- admin API -------------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._http.request(
            method, f"{self.url}/api/v1/admin{path}", json=body, headers=headers
        ) as r:
            text = await r.text()
            status = r.status
        try:
            data = json.loads(text)
        except ValueError:
            data = {"raw": text[:500]}
        if status >= 300:
            raise SealBridgeError("INTERNAL", f"platform {method} {path} → HTTP {status}: {str(data)[:500]}")
        return data

    async def register_company(self, uscc: str, name: str) -> dict[str, Any]:
        return await self.admin("POST", "/companies", {"uscc": uscc, "name": name})

    async def file_imprint(self, company_id: str, name: str, png: bytes, size_mm: int) -> dict[str, Any]:
        body = {
            "name": name,
            "picture_type": "png",
            "picture": base64.b64encode(png).decode(),
            "width_mm": size_mm,
            "height_mm": size_mm,
        }
        return await self.admin("POST", f"/companies/{company_id}/imprints", body)

    async def make_seal(self, uscc: str, imprint_id: str, plan: SealPlan, cert_der: bytes) -> dict[str, Any]:
        body = {
            "company": uscc,
            "imprint_id": imprint_id,
            "kind": plan.kind,
            "name": plan.name,
            "holder": plan.holder,
            "certs": [base64.b64encode(cert_der).decode()],
        }
        seal = await self.admin("POST", "/seals", body)
        seal["seal_der"] = base64.b64decode(seal["seal_der"])
        return seal

    async def revoke(self, esid: str, reason: str) -> dict[str, Any]:
        return await self.admin("POST", f"/seals/{esid}/revoke", {"reason": reason})
