"""The running platform: database + keys + settings, and the operations the HTTP layer and the CLI share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from central import migrations, tsa
from central.db import Database, Tx
from central.identity import PlatformIdentity, load_identity, record_certificates
from central.signing import sign_response
from central.status import seal_status, seal_statuses, unknown_status
from formats.errors import SealBridgeError


@dataclass(frozen=True)
class Settings:
    """The platform's settings (from `sealbridge central` options). Frozen: a change is a new object."""

    db_url: str
    """SQLite file path or postgresql:// URL."""
    key_dir: Path
    """The platform's key directory (maker and status-signing keys; never in the database)."""
    rate_per_second: float = 50.0
    """Public API requests per second per client IP (token bucket refill)."""
    rate_burst: int = 100
    """Public API burst per client IP (token bucket size)."""
    status_max_age: int = 60
    """Cache-Control max-age of signed status answers, in seconds."""
    max_document: int = 64 * 1024 * 1024
    """The largest document the verify endpoint accepts."""
    trust_anchors: tuple[bytes, ...] = ()
    """DER root certificates the verify endpoint trusts."""


def default_key_dir(db_url: str) -> Path:
    """Next to an SQLite file; for PostgreSQL the caller must choose (keys never go into the database)."""
    if db_url.startswith(("postgresql://", "postgres://")):
        raise SealBridgeError("BAD_REQUEST", "with PostgreSQL, pass --key-dir for the platform keys")
    path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite:///") else db_url
    return Path(path).resolve().parent / "platform-keys"


class Central:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)
        migrations.migrate(self.db)
        self.identity: PlatformIdentity = load_identity(settings.key_dir)
        self.db.run_sync(record_certificates, self.identity)

    def close(self) -> None:
        self.db.close()

    # -- signed status ---------------------------------------------------------------------------------
    def _signed_status(self, tx: Tx, esid: str, at: datetime | None) -> dict[str, Any]:
        body = seal_status(tx, esid, at)
        if body is None:
            raise SealBridgeError("SEAL_NOT_FOUND", f"no seal {esid}", {"esID": esid})
        pair = self.identity.status
        return sign_response(pair.key, pair.cert_sha256, "seal-status", body)

    def _signed_batch(self, tx: Tx, esids: list[str], at: datetime | None) -> dict[str, Any]:
        found = seal_statuses(tx, esids, at)
        statuses = [found.get(esid) or unknown_status(esid, at) for esid in esids]
        pair = self.identity.status
        return sign_response(pair.key, pair.cert_sha256, "status-batch", {"statuses": statuses})

    async def status(self, esid: str, at: datetime | None) -> dict[str, Any]:
        return await self.db.run(self._signed_status, esid, at, write=False)

    async def status_batch(self, esids: list[str], at: datetime | None) -> dict[str, Any]:
        return await self.db.run(self._signed_batch, esids, at, write=False)

    # -- time-stamp authority (RFC 3161) -----------------------------------------------------------------
    def tsa_roots(self) -> list[bytes]:
        """The roots the platform's TSA certificates chain to (anchors for timestamps it issued)."""
        return [k.root_der for k in self.identity.tsa.values()]

    async def timestamp(self, body: bytes, client: str) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq: granted with a token, or a rejection."""
        try:
            req = tsa.parse_request(body)
        except tsa.Rejected as err:
            return tsa.rejection(err)
        key = self.identity.tsa[tsa.family_for(req)]
        serial, gen_time = await self.db.run(tsa.record_token, req, client)
        loop = asyncio.get_running_loop()
        token = await loop.run_in_executor(None, tsa.build_token, req, serial, gen_time, key)
        return tsa.granted(token)
