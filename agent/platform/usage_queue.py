"""Usage reports (Art. 24: use is audited too) on a durable on-disk queue: each record is written first, then
sent in batches; only records the platform acknowledged leave the queue, so a crash or an unreachable platform
loses nothing. Without a directory the queue lives in memory (tests, one-shot tools)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.platform.transport import PlatformTransport
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from stamping.fileout import atomic_write
from stamping.platform_status import platform_time

USAGE_BATCH = 100
_RECORD_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")  # within the platform's id rule, and no dots or slashes


class UsageQueue:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: list[dict[str, Any]] = []
        self._lock: asyncio.Lock | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            rec = dict(rec)
            rec.setdefault("id", uuid.uuid4().hex)
            if not isinstance(rec["id"], str) or not _RECORD_ID.fullmatch(rec["id"]):
                # The id becomes a file name in the queue directory (and the platform's idempotency key).
                raise SealBridgeError(
                    "BAD_REQUEST", "a usage record id must be 8-128 characters [0-9A-Za-z_-]"
                )
            rec.setdefault("at", platform_time(datetime.now(UTC)))
            if self.directory is not None:
                atomic_write(self.directory / f"{rec['id']}.json", canonical_json(rec))
            else:
                self._memory.append(rec)

    def pending(self) -> list[dict[str, Any]]:
        if self.directory is None:
            return list(self._memory)
        out = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                out.append(json.loads(path.read_bytes()))
            except (OSError, ValueError):
                continue  # a torn write from a crash: the record was never acknowledged to the caller
        return out

    async def flush(self, transport: PlatformTransport) -> int:
        """Send what is queued; returns how many records are still queued."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            pending = self.pending()
            for i in range(0, len(pending), USAGE_BATCH):
                batch = pending[i : i + USAGE_BATCH]
                try:
                    status, body = await transport.request("POST", "/api/v1/usage", json={"records": batch})
                except SealBridgeError:
                    break  # unreachable: keep the queue for the next try
                if status != 200 or not isinstance(body, dict):
                    break  # refused (bad record?) — kept, and visible through pending()
                # Only ids we sent in this batch: an acknowledged id names a file to delete, so an id the
                # answer invents (say "../../x") must never reach the file system.
                sent = {rec.get("id") for rec in batch if isinstance(rec, dict)}
                acked = [*_str_list(body.get("accepted")), *_str_list(body.get("duplicate"))]
                self._drop({rec_id for rec_id in acked if rec_id in sent})
            return len(self.pending())

    def _drop(self, ids: set[str]) -> None:
        if self.directory is None:
            self._memory = [r for r in self._memory if r["id"] not in ids]
            return
        for rec_id in ids:
            try:
                (self.directory / f"{rec_id}.json").unlink()
            except FileNotFoundError:
                pass


def record_from_keywords(kw: dict[str, Any]) -> dict[str, Any]:
    """One usage record from keywords: esid, document_sm3, document_sm3_before, origin, frame_origin,
    cert_serial, cert_sha256, action, result, at, id."""
    rec: dict[str, Any] = {"esID": kw.get("esid") or kw.get("esID"), "action": kw.get("action", "stamp")}
    if kw.get("document_sm3"):
        rec["doc_sm3_after"] = kw["document_sm3"]
    if kw.get("document_sm3_before"):
        rec["doc_sm3_before"] = kw["document_sm3_before"]
    for key in ("origin", "frame_origin", "cert_serial", "cert_sha256", "result", "at", "id"):
        if kw.get(key) is not None:
            rec[key] = str(kw[key])
    return rec


def _str_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
