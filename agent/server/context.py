"""What the protocol methods act on: config, audit log, site policy, approvals, tokens and seals, platform.

One AgentContext per running agent, shared by every connection. Blocking work (token I/O, SQLite, stamping,
rendering) runs off the event loop: token calls on the token's own worker thread, the rest in the default
thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from agent.audit import AuditLog
from agent.config import AgentConfig
from agent.seal_store import SealEntry
from agent.server.approvals import Approvals, RateLimiter, SitePolicy
from agent.server.heap import IdleTrim
from agent.server.logs import log_event
from agent.server.protocol import UploadBudget
from agent.tokens.base import Token, TokenInfo
from agent.tokens.worker import TokenWorkers
from formats.errors import SealBridgeError

log = logging.getLogger("sealbridge.agent")

PLATFORM_SEALS_TTL_S = 60.0  # ask the platform for a certificate's seals at most this often
PLATFORM_SEALS_TIMEOUT_S = 5.0


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
    platform: Any = None  # agent.platform.PlatformClient, when a platform is configured
    require_platform: bool = True  # stamping refuses without a platform status check
    sessions: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.policy = SitePolicy(self.cfg)
        self.approvals = Approvals(self.cfg.limits.approval_timeout_s)
        self.rate = RateLimiter(self.cfg.limits.requests_per_minute)
        self.hotplug: list[Any] = []  # one hot-plug monitor per token kind that has something to watch
        self._background: set[asyncio.Task[Any]] = set()
        self.upload_budget = UploadBudget(self.cfg.limits.max_pending_bytes_total)
        self.in_use_budget = UploadBudget(self.cfg.limits.max_in_use_bytes_total)
        self._platform_seals_at: dict[str, float] = {}  # certificate SHA-256 -> when last fetched
        # Gives the memory the last requests freed back to the system once no call has run for a while.
        self.idle_trim = IdleTrim(idle_seconds=self.cfg.idle_memory_release_s)

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

        from agent.tokens.drivers import list_tokens

        # A soft token file that is not there is a token that is not inserted.
        present = [p for p in self.cfg.soft_tokens if Path(p).is_file()]
        return list_tokens(self.token_sources(present))

    def token_sources(self, soft: list[str] | None = None) -> Any:
        from agent.tokens.drivers import TokenSources

        cfg = self.cfg
        return TokenSources.of(
            soft=cfg.soft_tokens if soft is None else soft, pkcs11=cfg.pkcs11_modules, skf=cfg.skf_modules
        )

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

    def call_on_token_thread(self, entry: SealEntry, fn: Any, *args: Any) -> Any:
        """on_token_thread from a worker thread (never the loop): blocks that thread until it ran."""
        return self.workers.call(_token_key(entry.token), fn, *args)

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
        for monitor in self.hotplug:
            await monitor.stop()
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
        for found in store.seals_for_token(info):
            if found.error or found.seal is None:
                log_event("seal_unusable", token=info.token_id, source=found.source, why=found.error)
                continue
            if not found.usable or found.seal_id in seen:
                continue
            seen.add(found.seal_id)
            found.token = token
            entries.append(found)
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
