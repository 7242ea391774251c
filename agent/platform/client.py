"""PlatformClient: what the agent asks the central platform, composed of the transport, envelope trust, the
status cache and the usage queue (see the package docstring).

- `status(esid, at)`: a seal's status, from a verified live answer, or a cached signed answer younger than
  `grace_seconds` when the platform cannot be reached (else PLATFORM_UNREACHABLE).
- `require_active(esid, cert)`: raises SEAL_REVOKED / SEAL_SUSPENDED / SEAL_EXPIRED / SEAL_NOT_YET_VALID /
  SEAL_NOT_FOR_SIGNER.
- `status_check(...)`: the report's platform_status check (the agent's verify).
- `seals_for_cert(cert)`: seals the platform issued for a certificate.
- `report_usage(...)`: queue usage records durably, then send what can be sent.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.platform.answers import StatusAnswer, answer_from
from agent.platform.status_cache import StatusCache
from agent.platform.transport import PlatformTransport, path_segment
from agent.platform.trust import EnvelopeTrust
from agent.platform.usage_queue import UsageQueue, record_from_keywords
from formats.errors import SealBridgeError
from formats.gm.keys import load_certificates
from stamping.platform_status import cert_may_use, error_check, parse_platform_time, platform_time
from stamping.report import Check

CLOCK_SKEW_S = 300  # a live answer may be this old (proxy caches) or this far in the future (clock skew)
DEFAULT_GRACE_S = 24 * 3600


class PlatformClient:
    def __init__(
        self,
        base_url: str,
        trusted_certs: list[bytes] | None = None,
        cache_dir: str | Path | None = None,
        grace_seconds: float = DEFAULT_GRACE_S,
        timeout: float = 10.0,
        pin_on_first_use: bool = True,
    ) -> None:
        self.transport = PlatformTransport(base_url, timeout)
        self.base_url = self.transport.base_url
        self.grace_seconds = grace_seconds
        self.cache_dir = Path(cache_dir) if cache_dir else None
        pin_file = self.cache_dir / "platform-pins.json" if self.cache_dir else None
        self.status_cache = StatusCache(self.cache_dir / "status" if self.cache_dir else None, grace_seconds)
        self.usage = UsageQueue(self.cache_dir / "usage-queue" if self.cache_dir else None)
        self.trust = EnvelopeTrust(self.base_url, trusted_certs, pin_file, pin_on_first_use)

    @property
    def trusted_fingerprints(self) -> list[str]:
        """SHA-256 (hex) of the platform certificates whose signed answers this client accepts."""
        return sorted(self.trust.trusted)

    @classmethod
    def from_config(cls, cfg: Any) -> PlatformClient:
        """From the agent's config: platform_url, platform_anchor (cert file), platform_grace_s, data_dir."""
        anchors: list[bytes] = []
        if getattr(cfg, "platform_anchor", None):
            anchors = [c.dump() for c in load_certificates(Path(cfg.platform_anchor).read_bytes())]
        return cls(
            cfg.platform_url,
            trusted_certs=anchors,
            cache_dir=Path(cfg.data_dir) / "platform-cache",
            grace_seconds=getattr(cfg, "platform_grace_s", DEFAULT_GRACE_S),
        )

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    def verify_envelope(self, envelope: Any, kind: str) -> dict[str, Any]:
        """The signed `response` if the envelope is signed by a trusted platform certificate, else raise."""
        return self.trust.verify_envelope(envelope, kind)

    # -- status ---------------------------------------------------------------------------------------
    async def status(self, esid: str, at: datetime | None = None) -> StatusAnswer:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        try:
            await self.trust.ensure(self.transport)
            params = {"at": platform_time(at)} if at else None
            path = f"/api/v1/seals/{path_segment(esid)}/status"
            http_status, body = await self.transport.request("GET", path, params=params)
        except SealBridgeError as err:
            if err.code != "PLATFORM_UNREACHABLE":
                raise
            return self._from_cache(esid, at, err)
        if http_status != 200:
            self.transport.raise_error(http_status, body)
        response = self.trust.verify_envelope(body, "seal-status")
        if response.get("esID") != esid or (at is not None and response.get("at") != platform_time(at)):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "the answer is about another seal or time")
        age = time.time() - parse_platform_time(response["produced_at"]).timestamp()
        if abs(age) > CLOCK_SKEW_S:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"stale or future answer ({int(age)} s old)")
        self.status_cache.store(esid, body)
        return answer_from(response, at, from_cache=False)

    def _from_cache(self, esid: str, at: datetime | None, cause: SealBridgeError) -> StatusAnswer:
        envelope = self.status_cache.load(esid)
        if envelope is None or not self.trust.trusted:
            raise cause
        response = self.trust.verify_envelope(envelope, "seal-status")  # a file edited on disk is refused
        if response.get("esID") != esid:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "cached answer is about another seal")
        self.status_cache.check_age(response, cause)
        return answer_from(response, at, from_cache=True)

    async def require_active(self, esid: str, cert_der: bytes | None = None) -> StatusAnswer:
        """The seal's status if it is active; given the signing certificate, also refuse (SEAL_NOT_FOR_SIGNER)
        one that neither holds the seal nor is authorized now — an ended or withdrawn authorization leaves
        the certificate inside seal DERs made while it lasted."""
        answer = await self.status(esid)
        refusal = answer.refusal()
        if refusal is not None:
            raise refusal
        if cert_der is not None:
            allowed, why = cert_may_use(answer.body, cert_der, datetime.now(UTC))
            if allowed is False:
                raise SealBridgeError("SEAL_NOT_FOR_SIGNER", f"seal {esid}: {why}", {"esID": esid})
        return answer

    async def status_check(
        self, esid: str, signed_at: datetime | None, cert_der: bytes | None = None
    ) -> Check:
        """The report's platform_status check (used by the agent's verify); see StatusAnswer.to_check."""
        try:
            return (await self.status(esid, signed_at)).to_check(cert_der, signed_at)
        except SealBridgeError as err:
            return error_check(err.code, esid)

    async def seals_for_cert(self, cert_der: bytes) -> list[dict[str, Any]]:
        """Seals usable by this certificate (held or authorized), each with `seal_der` bytes."""
        import base64

        sha = hashlib.sha256(cert_der).hexdigest()
        status, body = await self.transport.request("GET", "/api/v1/seals", params={"cert": sha})
        if status != 200:
            self.transport.raise_error(status, body)
        try:
            seals = list(body["seals"])
            for s in seals:
                s["seal_der"] = base64.b64decode(s["seal_der"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "malformed seal list") from None
        return seals

    # -- usage ----------------------------------------------------------------------------------------
    async def report_usage(self, records: list[dict[str, Any]] | None = None, **one: Any) -> int:
        """Queue records on disk, then try to send the queue. Returns how many records are still queued.
        Also accepts one record as keywords (usage_queue.record_from_keywords)."""
        self.usage.add([record_from_keywords(one)] if one else list(records or []))
        return await self.flush_usage()

    def pending_usage(self) -> list[dict[str, Any]]:
        return self.usage.pending()

    async def flush_usage(self) -> int:
        return await self.usage.flush(self.transport)
