"""What the protocol methods act on: config, audit log, site policy, approvals, tokens and seals, platform.

One AgentContext per running agent, shared by every connection. Blocking work (token I/O, SQLite, stamping,
rendering) runs off the event loop: token calls on the token's own worker thread, the rest in the default
thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.audit import AuditLog
from agent.config import AgentConfig
from agent.server.approvals import Approvals, RateLimiter, SitePolicy
from agent.server.logs import log_event
from agent.server.protocol import UploadBudget
from agent.tokens.base import KeyInfo, Token, TokenInfo
from agent.tokens.worker import TokenWorkers
from formats.errors import SealBridgeError

log = logging.getLogger("sealbridge.agent")

PLATFORM_SEALS_TTL_S = 60.0  # ask the platform for a certificate's seals at most this often
PLATFORM_SEALS_TIMEOUT_S = 5.0


@dataclass
class SealEntry:
    """A seal on a token together with the token key whose certificate the seal lists."""

    seal_id: str  # the seal's esID
    seal: Any  # formats.ses.Seal
    token: Token
    token_info: TokenInfo
    key: KeyInfo
    source: str = "token"  # "token": stored on the token; "platform": issued for its certificate

    @property
    def token_id(self) -> str:
        return self.token_info.token_id

    @property
    def cert_serial(self) -> str:
        from asn1crypto import x509

        return format(x509.Certificate.load(self.key.certificate).serial_number, "x")

    def to_info(self, include_picture: bool = False) -> dict[str, Any]:
        from asn1crypto import x509

        cert = x509.Certificate.load(self.key.certificate)
        pic = self.seal.picture
        info: dict[str, Any] = {
            "id": self.seal_id,
            "name": self.seal.name,
            "esID": self.seal.esid,
            "kind": _kind_name(self.seal),
            "version": str(self.seal.version),
            "token_id": self.token_id,
            "key_id": self.key.key_id,
            "algorithm": self.key.algorithm,
            "cert_subject": cert.subject.human_friendly[:1000],
            "cert_serial": self.cert_serial,
            "valid_from": _iso(self.seal.valid_start),
            "valid_to": _iso(self.seal.valid_end),
            "width_mm": float(pic.width_mm) if pic else None,
            "height_mm": float(pic.height_mm) if pic else None,
        }
        if include_picture:
            from stamping.sealview import picture_png

            png = picture_png(pic.type, pic.data) if pic else None
            info["picture_png_base64"] = base64.b64encode(png).decode() if png else None
        return info


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def _kind_name(seal: Any) -> str | None:
    try:
        from formats.ses import describe_type

        desc = describe_type(seal.type, seal.version)
        name = desc.get("label_zh") or desc.get("label_en")
        return str(name)[:100] if name else str(seal.type)
    except Exception:  # a kind we cannot name is still a usable seal
        return str(seal.type)


def token_summary(info: TokenInfo) -> dict[str, Any]:
    return {
        "token_id": info.token_id[:500],
        "label": info.label[:200],
        "kind": info.kind,
        "serial": info.serial[:200],
        "manufacturer": info.manufacturer[:200],
        "pin_pad": bool(info.pin_pad),
        "seal_count": len(info.seals),
        "key_count": len(info.keys),
    }


@dataclass
class AgentContext:
    cfg: AgentConfig
    secret: bytes = field(repr=False)
    audit: AuditLog
    workers: TokenWorkers = field(default_factory=TokenWorkers)
    platform: Any = None  # agent.platform_client.PlatformClient, when a platform is configured
    require_platform: bool = True  # stamping refuses without a platform status check
    sessions: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.policy = SitePolicy(self.cfg)
        self.approvals = Approvals(self.cfg.limits.approval_timeout_s)
        self.rate = RateLimiter(self.cfg.limits.requests_per_minute)
        self.hotplug: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self.upload_budget = UploadBudget(self.cfg.limits.max_pending_bytes_total)
        self._platform_seals_at: dict[str, float] = {}  # certificate SHA-256 -> when last fetched

    def spawn(self, coro: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- audit ----------------------------------------------------------------------------------------------

    async def record(self, event: str, result: str, **fields: Any) -> int:
        rec = await asyncio.to_thread(self.audit.append, event, result, **fields)
        log_event("audit", kind=event, result=result, seq=rec.seq, origin=fields.get("origin_top"))
        return rec.seq

    # -- tokens and seals -------------------------------------------------------------------------------------

    def _list_tokens(self) -> list[Token]:
        from pathlib import Path

        from agent.tokens.registry import list_tokens

        # A soft token file that is not there is a token that is not inserted.
        present = [p for p in self.cfg.soft_tokens if Path(p).is_file()]
        return list_tokens(self.cfg.pkcs11_modules, present)

    async def tokens(self) -> list[tuple[Token, TokenInfo]]:
        out: list[tuple[Token, TokenInfo]] = []
        for token in await asyncio.to_thread(self._list_tokens):
            tid = _token_key(token)
            try:
                info = await self.workers.run(tid, token.info)
            except SealBridgeError as err:
                if err.code in ("TOKEN_ABSENT", "TOKEN_NOT_FOUND"):
                    continue  # removed between listing and reading
                raise
            out.append((token, info))
        return out

    async def seals(self) -> list[SealEntry]:
        """The seals on the inserted tokens, then the seals the platform issued for their certificates
        (agent.seal_store: fetched when the platform answers, else its cached answer, so usable offline)."""
        tokens = await self.tokens()
        fetched = await self._fetch_platform_seals([info for _, info in tokens])
        return await asyncio.to_thread(_seal_entries, tokens, self._seal_store(fetched))

    def _seal_store(self, fetched: dict[str, list[bytes]]) -> Any:
        from agent.seal_store import SealStore

        def provider(digest_hex: str) -> list[bytes]:
            if digest_hex not in fetched:  # not asked this time (fresh enough, or unreachable): the cache
                raise SealBridgeError("PLATFORM_UNREACHABLE", "no fresh platform answer")
            return fetched[digest_hex]

        return SealStore(self.cfg.data_dir, provider)

    async def _fetch_platform_seals(self, infos: list[TokenInfo]) -> dict[str, list[bytes]]:
        """Ask the platform for each token certificate's seals, at most every PLATFORM_SEALS_TTL_S per
        certificate and briefly (a platform that is down must not stall seals.list)."""
        from agent.seal_store import cert_sha256

        fetch = getattr(self.platform, "seals_for_cert", None)
        if fetch is None:
            return {}
        now = time.monotonic()
        due = {
            cert_sha256(cert): cert
            for info in infos
            for cert in (k.certificate for k in info.keys)
            if cert and now - self._platform_seals_at.get(cert_sha256(cert), -1e9) >= PLATFORM_SEALS_TTL_S
        }

        async def one(sha: str, cert: bytes) -> tuple[str, list[bytes] | None]:
            try:
                seals = await asyncio.wait_for(fetch(cert), PLATFORM_SEALS_TIMEOUT_S)
                return sha, [bytes(s["seal_der"]) for s in seals]
            except (SealBridgeError, TimeoutError, KeyError, TypeError) as exc:
                why = getattr(exc, "code", type(exc).__name__)
                log_event("platform_seals_unavailable", cert=sha[:16], why=why)
                return sha, None

        out: dict[str, list[bytes]] = {}
        for sha, seals in await asyncio.gather(*(one(sha, cert) for sha, cert in due.items())):
            # A failure also waits for the next round: the cached answer stands in meanwhile, and a
            # platform that is down costs one timeout a minute, not one per call.
            self._platform_seals_at[sha] = now
            if seals is not None:
                out[sha] = seals
        return out

    async def find_seal(self, seal_id: str) -> SealEntry:
        for entry in await self.seals():
            if entry.seal_id == seal_id:
                return entry
        raise SealBridgeError("SEAL_NOT_FOUND", f"no seal {seal_id!r} on the tokens present")

    async def login(self, entry: SealEntry, pin: str | None) -> Any:
        """Log in on the token's own worker thread; returns a Signer. The PIN goes no further."""
        return await self.workers.run(
            _token_key(entry.token), entry.token.signer, pin or "", entry.key.key_id
        )

    async def on_token_thread(self, entry: SealEntry, fn: Any, *args: Any) -> Any:
        return await self.workers.run(_token_key(entry.token), fn, *args)

    # -- platform -------------------------------------------------------------------------------------------

    async def require_active(self, entry: SealEntry) -> None:
        if self.platform is None:
            if self.require_platform:
                raise SealBridgeError(
                    "PLATFORM_UNREACHABLE", "no central platform is configured (platform_url)"
                )
            return
        # With the signing certificate: an authorization that ended or was withdrawn leaves the certificate
        # in the seal revision made while it lasted, so only the platform's signed holder_certs and
        # authorizations can refuse it (SEAL_NOT_FOR_SIGNER).
        await self.platform.require_active(entry.seal_id, entry.key.certificate)

    # -- events ---------------------------------------------------------------------------------------------

    async def broadcast(self, method: str, params: dict[str, Any]) -> None:
        for session in list(self.sessions):
            if session.authenticated:
                await session.send_event(method, params)

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        if self.hotplug is not None:
            await self.hotplug.stop()
        if self.platform is not None and hasattr(self.platform, "close"):
            res = self.platform.close()
            if asyncio.iscoroutine(res):
                await res
        self.workers.shutdown(wait=False)
        self.audit.close()


def _seal_entries(tokens: list[tuple[Token, TokenInfo]], store: Any) -> list[SealEntry]:
    """Each usable seal, with the token key its certificate list names: the token's own seals first, then
    the platform's (agent.seal_store.SealStore); the first seal of an esID wins."""
    entries: list[SealEntry] = []
    seen: set[str] = set()
    for token, info in tokens:
        keys = {k.key_id: k for k in info.keys}
        for found in store.seals_for_token(info):
            if found.error or found.seal is None:
                log_event("seal_unusable", token=info.token_id, source=found.source, why=found.error)
                continue
            key = keys.get(found.key_id) if found.key_id is not None else None
            if key is None or found.seal_id in seen:
                continue
            seen.add(found.seal_id)
            entries.append(SealEntry(found.seal_id, found.seal, token, info, key, found.source))
    return entries


def _token_key(token: Any) -> str:
    """The worker-thread key of a token: one thread per token, whatever its driver."""
    token_id = getattr(token, "token_id", None)
    if isinstance(token_id, str):
        return token_id
    path = getattr(token, "path", None)
    if path is not None:
        return f"soft:{path}"
    return f"token:{id(token)}"
