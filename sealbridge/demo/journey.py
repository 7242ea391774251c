"""The demo journey, run once through the agent's protocol (agent.client), exactly as the extension would:
stamp the sample PDF and OFD (keyword, riding seam, coordinates), approving each request with the PIN as the
approval window does, verify both, revoke the contract seal at the platform, and show that the agent refuses
to stamp with it. Every step states what it expects; the journey passes only if every step got it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.client import AgentClient, AgentError, page_origin
from sealbridge.demo.company import DemoSeal
from sealbridge.demo.console import Console, report_lines
from sealbridge.demo.platform import CentralPlatform
from sealbridge.demo.samples import KEYWORD
from stamping.fileout import atomic_write


def _kind_label(kind: object) -> str:
    """The seal kind's Chinese name; the agent may send the SES type number as text."""
    from formats.ses import SealKind

    if isinstance(kind, str) and kind.isdigit():
        known = SealKind.from_type(int(kind))
        return known.label_zh if known else kind
    return str(kind)


class StepFailed(Exception):
    """A step did not give the expected result."""


@dataclass
class Journey:
    console: Console
    agent_url: str
    secret: bytes
    portal_origin: str
    platform: CentralPlatform
    seals: dict[str, DemoSeal]
    pin: str
    documents: Path
    pdf: bytes
    ofd: bytes
    failures: list[str] = field(default_factory=list)
    outputs: dict[str, bytes] = field(default_factory=dict)
    client: AgentClient | None = None
    audit_db: Path | None = None  # the agent's audit log, checked like `sealbridge audit verify`

    @property
    def origin(self) -> dict[str, str]:
        return page_origin(self.portal_origin)

    async def step(self, zh: str, en: str, action: Callable[[], Awaitable[str]]) -> bool:
        """Run one step; `action` returns the success line (English) or raises StepFailed/anything."""
        self.console.step(zh, en)
        start = time.monotonic()
        try:
            outcome = await action()
        except Exception as exc:  # any failure of a step is that step's failed result, never a traceback
            self.failures.append(f"{en}: {exc}")
            self.console.result(False, "未达到预期", f"unexpected: {type(exc).__name__}: {exc}")
            return False
        self.console.result(True, "符合预期", f"{outcome} ({time.monotonic() - start:.1f} s)")
        return True

    def _save(self, name: str, data: bytes) -> Path:
        path = self.documents / name
        atomic_write(path, data, 0o644)
        return path

    # -- the steps -------------------------------------------------------------------------------------------

    async def connect(self) -> str:
        self.client = await AgentClient.connect(self.agent_url, self.secret)
        hello = await self.client.hello()
        self.console.info(
            f"agent {hello['version']}, protocol v{hello['protocol']}, formats {', '.join(hello['formats'])}"
        )
        return "authenticated with the pairing secret (HMAC challenge, both ways)"

    async def list_seals(self) -> str:
        assert self.client
        listed = await self.client.seals(self.origin)
        for s in listed:
            self.console.info(
                f"{s['name']}  [{_kind_label(s.get('kind'))}]  esID {s['esID']}  {s['algorithm'].upper()}"
            )
        wanted = {s.esid for s in self.seals.values()}
        missing = wanted - {s["esID"] for s in listed}
        if missing:
            raise StepFailed(f"seals missing on the token: {sorted(missing)}")
        return f"{len(listed)} seals on the key, all made by the platform"

    def _approver(
        self, role: str, preview_to: str | None = None
    ) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        seal = self.seals[role]

        async def approve(req: dict[str, Any]) -> tuple[str, str]:
            doc = req["document"]
            self.console.info(
                f"approval window 审批窗口: {req['origin']['top']} asks to stamp {doc.get('name')} "
                f"({doc['format'].upper()}, {doc.get('page_count')} pages) → {seal.plan.zh}, PIN entered"
            )
            if preview_to and self.client:
                shot = await self.client.call(
                    "preview",
                    {"request_id": req["request_id"], "seal_id": seal.esid, "dpi": 60, "pages": [1]},
                )
                path = self._save(preview_to, base64.b64decode(shot["images"][0]["png_base64"]))
                self.console.info(f"preview of page 1 with the seal drawn: {path}")
            return seal.esid, self.pin

        return approve

    async def stamp(
        self,
        key: str,
        data: bytes,
        name: str,
        role: str,
        placements: list[dict[str, Any]],
        preview: str | None = None,
    ) -> str:
        assert self.client
        out, res = await self.client.stamp(
            data,
            placements,
            self.origin,
            approve=self._approver(role, preview),
            name=name,
            seal_id=self.seals[role].esid,
        )
        if res["seal_id"] != self.seals[role].esid:
            raise StepFailed(f"stamped with {res['seal_id']}, not {self.seals[role].esid}")
        if not out.startswith(data[:4]) or len(out) <= len(data):
            raise StepFailed("the stamped document is not a grown copy of the original")
        self.outputs[key] = out
        path = self._save(name.replace(".", "-stamped."), out)
        self.console.info(
            f"pages {res['pages']}, signatures {', '.join(res['signature_ids'])}, audit #{res['audit_seq']} → {path}"
        )
        return f"{len(out):,} bytes, stamped with {self.seals[role].plan.en}"

    async def verify(self, key: str, fmt: str, roles: set[str], after_revocation: bool = False) -> str:
        assert self.client
        data = self.outputs.get(key)
        if data is None:
            raise StepFailed("nothing to verify: the stamping step failed")
        report = await self.client.verify(data, self.origin, name=f"form-stamped.{fmt}")
        suffix = "-after-revocation" if after_revocation else ""
        self._save(f"report-{fmt}{suffix}.json", json.dumps(report, ensure_ascii=False, indent=1).encode())
        for line in report_lines(report):
            self.console.info(line)
        esids = {(s.get("seal") or {}).get("esID") for s in report["seals"]}
        wanted = {self.seals[r].esid for r in roles}
        if esids != wanted:
            raise StepFailed(f"seals in the report {sorted(map(str, esids))}, expected {sorted(wanted)}")
        if after_revocation:
            contract = self.seals["contract"].esid
            details = [
                s["checks"]["platform_status"]["detail"]
                for s in report["seals"]
                if s["seal"]["esID"] == contract
            ]
            if not details or not all("revoked" in d for d in details):
                raise StepFailed(f"the report does not show the revocation: {details}")
            return (
                f"verdict {report['verdict']}: sealed before the revocation, the report shows it revoked now"
            )
        if report["verdict"] != "valid":
            raise StepFailed(f"verdict {report['verdict']}, expected valid")
        return f"verdict valid, {len(report['seals'])} signature(s), platform status active"

    async def revoke(self) -> str:
        seal = self.seals["contract"]
        answer = await self.platform.revoke(
            seal.esid, "演示：合同专用章遗失 / demo: contract seal reported lost"
        )
        if answer.get("status") != "revoked":
            raise StepFailed(f"platform answered status {answer.get('status')!r}")
        return f"{seal.esid} is revoked at the platform"

    async def refused(self) -> str:
        assert self.client
        try:
            await self.client.stamp(
                self.pdf,
                [{"type": "keyword", "text": KEYWORD}],
                self.origin,
                approve=self._approver("contract"),
                name="contract-after-revocation.pdf",
                seal_id=self.seals["contract"].esid,
            )
        except AgentError as err:
            self.console.info(f"agent answered {err.code}: {err.message_zh} / {err.message_en}")
            if err.code != "SEAL_REVOKED":
                raise StepFailed(f"refused with {err.code}, expected SEAL_REVOKED") from None
            return "refused with SEAL_REVOKED, nothing was signed"
        raise StepFailed("the agent stamped with a revoked seal")

    async def audit(self) -> str:
        assert self.client
        records = (await self.client.call("audit.recent", {"limit": 50}))["records"]
        stamps = [r for r in records if r["event"] == "stamp"]
        ok = sum(1 for r in stamps if r["result"] == "OK")
        # The platform's refusal is the approval's record (the request stays open for another seal).
        refused = [
            r for r in records if r["event"] in ("stamp", "approval") and r["result"] == "SEAL_REVOKED"
        ]
        self.console.info(f"{len(records)} records; stamps OK {ok}, refused {len(refused)}")
        if ok < 4 or not refused:
            raise StepFailed("the audit log lacks the stamps or the refusal")
        if self.audit_db is not None:
            from agent.audit import verify_file

            check = await asyncio.to_thread(verify_file, self.audit_db)
            self.console.info(
                f"hash chain 哈希链 ({check.count} records): {'intact' if check.ok else check.reason}"
            )
            if not check.ok:
                raise StepFailed(f"the audit chain is broken at #{check.first_bad_seq}: {check.reason}")
        return "every stamp, verification and the refusal is in the hash-chained audit log"

    # -- all of it ---------------------------------------------------------------------------------------

    async def run(self) -> bool:
        c = self.console
        seam = {"type": "seam", "side": "right", "pages": "all"}
        keyword = {"type": "keyword", "text": KEYWORD}
        sign_line = {"type": "at", "page": 3, "x": 95, "y": 196}
        try:
            if not await self.step("连接本地代理（扩展来源 + 配对密钥）", "Connect to the agent (extension origin + pairing secret)", self.connect):  # fmt: skip
                return False
            await self.step("列出 UKey 上的印章", "List the seals on the key", self.list_seals)
            c.title("盖章", "Stamping")
            await self.step(
                f"PDF：公章按关键字“{KEYWORD}”盖章并加盖骑缝章",
                f"PDF: official seal at keyword '{KEYWORD}' plus a riding seam over all pages",
                lambda: self.stamp(
                    "pdf", self.pdf, "form.pdf", "official", [keyword, seam], "preview-page1.png"
                ),
            )
            await self.step(
                "PDF：法定代表人职务章按坐标盖在第 3 页",
                "PDF: legal-representative seal by coordinates on page 3",
                lambda: self.stamp(
                    "pdf", self.outputs.get("pdf", self.pdf), "form.pdf", "position", [sign_line]
                ),
            )
            await self.step(
                f"OFD：合同专用章按关键字“{KEYWORD}”盖章并加盖骑缝章",
                f"OFD: contract seal at keyword '{KEYWORD}' plus a riding seam",
                lambda: self.stamp("ofd", self.ofd, "form.ofd", "contract", [keyword, seam]),
            )
            await self.step(
                "OFD：法定代表人职务章按坐标盖在第 3 页",
                "OFD: legal-representative seal by coordinates on page 3",
                lambda: self.stamp(
                    "ofd", self.outputs.get("ofd", self.ofd), "form.ofd", "position", [sign_line]
                ),
            )
            c.title("验章", "Verification")
            await self.step("验证盖章后的 PDF", "Verify the stamped PDF", lambda: self.verify("pdf", "pdf", {"official", "position"}))  # fmt: skip
            await self.step("验证盖章后的 OFD", "Verify the stamped OFD", lambda: self.verify("ofd", "ofd", {"contract", "position"}))  # fmt: skip
            c.title("吊销", "Revocation")
            await self.step("在中心平台吊销合同专用章", "Revoke the contract seal at the central platform", self.revoke)  # fmt: skip
            await self.step("再用合同专用章盖章：代理拒绝", "Stamp with the revoked contract seal: the agent refuses", self.refused)  # fmt: skip
            await self.step(
                "吊销后复验 OFD：签章时有效，现已吊销",
                "Re-verify the OFD: active when sealed, revoked now",
                lambda: self.verify("ofd", "ofd", {"contract", "position"}, after_revocation=True),
            )
            await self.step("查看审计日志", "Read the audit log", self.audit)
        finally:
            if self.client is not None:
                await self.client.close()
        return not self.failures
