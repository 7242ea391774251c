"""The agent's client for the central seal platform (电子印章公共服务平台).

- `status(esid, at)` asks for a seal's status; every answer is an SM2-with-SM3 signed envelope checked against
  the pinned platform certificate(s) (PLATFORM_RESPONSE_INVALID otherwise) and cached on disk as received.
  When the platform cannot be reached, a cached signed answer younger than `grace_seconds` stands in
  (re-verified on load); otherwise PLATFORM_UNREACHABLE.
- `require_active(esid)` raises SEAL_REVOKED / SEAL_SUSPENDED / SEAL_EXPIRED / SEAL_NOT_YET_VALID.
- `report_usage(...)` writes each record to a durable on-disk queue first, then sends what it can.
- `make_status_lookup(url, …)` is the synchronous StatusLookup for `sealbridge verify --platform URL`.

Signed envelope (see docs/central.md): {"response": {...}, "signature": b64 DER, "signature_algorithm": OID,
"cert_sha256": hex}; the signature covers canonical JSON of `response` (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3
from formats.gm.keys import load_certificates, verify_signature
from stamping.fileout import atomic_write
from stamping.report import Check
from stamping.seal_users import cert_may_use, platform_time
from stamping.sealchecks import platform_error_check, status_answer_check

CLOCK_SKEW_S = 300  # a live answer may be this old (proxy caches) or this far in the future (clock skew)
USAGE_BATCH = 100
_RECORD_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")  # within the platform's id rule, and no dots or slashes
_REFUSALS = {
    "revoked": "SEAL_REVOKED",
    "suspended": "SEAL_SUSPENDED",
    "expired": "SEAL_EXPIRED",
    "not_yet_valid": "SEAL_NOT_YET_VALID",
    "not_issued": "SEAL_NOT_FOUND",
    "unknown": "SEAL_NOT_FOUND",
}


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def status_at(
    history: list[dict[str, Any]], valid_start: str, valid_end: str, t: str
) -> tuple[str, str | None]:
    """(status, since) at time t from a signed history; mirrors central.status.status_at."""
    if t < valid_start:
        return "not_yet_valid", None
    last = None
    for event in history:
        if event["at"] <= t:
            last = event
        else:
            break
    if last is None and history and history[0]["at"][:19] == t[:19]:
        last = history[
            0
        ]  # a whole-second signing time in the second of making: made first (it embeds the seal)
    if last is None:
        return "not_issued", None
    if last["status"] == "revoked":
        return "revoked", last["at"]
    if t >= valid_end:
        return "expired", valid_end
    return last["status"], last["at"]


@dataclass
class StatusAnswer:
    esid: str
    status: str  # now: active | suspended | revoked | expired | not_yet_valid | not_issued
    since: str | None
    produced_at: str
    at: str | None = None
    status_at: str | None = None  # at `at`
    from_cache: bool = False
    body: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        text = f"{self.status} now" + (
            f" (since {self.since})" if self.since and self.status != "active" else ""
        )
        if self.at is not None:
            text += f", {self.status_at} at signing time ({self.at})"
        if self.from_cache:
            text += f" [cached answer of {self.produced_at}; platform unreachable]"
        return text

    def to_check(self, cert_der: bytes | None = None, signed_at: datetime | None = None) -> Check:
        """The report's platform_status (stamping.sealchecks.status_answer_check, shared with the platform)."""
        body = {**self.body, "status": self.status, "since": self.since}
        if self.at is not None:
            body.update(status_at=self.status_at, at=self.at)
        if self.at is not None and signed_at is None:
            signed_at = datetime.fromisoformat(self.at.replace("Z", "+00:00"))
        return status_answer_check(
            body,
            signed_at if self.at is not None else None,
            cert_der,
            produced_at=self.produced_at,
            cached=self.from_cache,
        )


class PlatformClient:
    def __init__(
        self,
        base_url: str,
        trusted_certs: list[bytes] | None = None,
        cache_dir: str | Path | None = None,
        grace_seconds: float = 24 * 3600,
        timeout: float = 10.0,
        pin_on_first_use: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.grace_seconds = grace_seconds
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.pin_on_first_use = pin_on_first_use
        self._trusted: dict[str, bytes] = {
            hashlib.sha256(c).hexdigest(): bytes(c) for c in trusted_certs or []
        }
        self._session: aiohttp.ClientSession | None = None
        self._usage_lock: asyncio.Lock | None = None
        if self.cache_dir:
            for sub in ("status", "usage-queue"):
                (self.cache_dir / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self._trusted:
                self._trusted = self._load_pins()

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
            grace_seconds=getattr(cfg, "platform_grace_s", 24 * 3600),
        )

    # -- plumbing -------------------------------------------------------------------------------------
    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(HTTP status, JSON body). Network trouble, 5xx and 429 → PLATFORM_UNREACHABLE."""
        try:
            async with self._http().request(method, self.base_url + path, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SealBridgeError(
                "PLATFORM_UNREACHABLE", f"{self.base_url}: {type(exc).__name__}: {exc}"
            ) from None
        if status >= 500 or status == 429:
            raise SealBridgeError("PLATFORM_UNREACHABLE", f"{self.base_url} answered HTTP {status}")
        try:
            return status, json.loads(raw)
        except ValueError:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"HTTP {status} without a JSON body") from None

    @staticmethod
    def _raise_error(status: int, body: Any) -> None:
        err = body.get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        try:
            raise SealBridgeError(
                code or "PLATFORM_RESPONSE_INVALID", (err or {}).get("detail") or f"HTTP {status}"
            )
        except ValueError:  # a code this build does not know
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"HTTP {status} {code}") from None

    # -- trust ----------------------------------------------------------------------------------------
    def _pin_file(self) -> Path | None:
        return self.cache_dir / "platform-pins.json" if self.cache_dir else None

    def _load_pins(self) -> dict[str, bytes]:
        path = self._pin_file()
        if not path or not path.exists():
            return {}
        try:
            pins = json.loads(path.read_text()).get(self.base_url, {})
            return {sha: base64.b64decode(der) for sha, der in pins.items()}
        except (ValueError, AttributeError):
            raise SealBridgeError(
                "PLATFORM_RESPONSE_INVALID", f"{path} is damaged; delete it to re-pin"
            ) from None

    async def _ensure_trust(self) -> None:
        if self._trusted:
            return
        if not self.pin_on_first_use:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "no trusted platform certificate configured")
        status, body = await self._request("GET", "/api/v1/platform")
        try:
            certs = {
                c["sha256"]: base64.b64decode(c["der"]) for c in body["certificates"] if c["role"] == "status"
            }
        except (KeyError, TypeError, ValueError):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "malformed /api/v1/platform answer") from None
        certs = {
            hashlib.sha256(d).hexdigest(): d for d in certs.values()
        }  # never trust the server's own hash
        if status != 200 or not certs:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "the platform published no status certificate")
        self._trusted = certs
        path = self._pin_file()
        if path:
            try:
                all_pins = json.loads(path.read_text()) if path.exists() else {}
            except ValueError:
                all_pins = {}
            all_pins[self.base_url] = {sha: base64.b64encode(d).decode() for sha, d in certs.items()}
            atomic_write(path, json.dumps(all_pins, indent=1).encode())

    def verify_envelope(self, envelope: Any, kind: str) -> dict[str, Any]:
        """The signed `response` if the envelope is signed by a trusted platform certificate, else raise."""

        def bad(why: str) -> SealBridgeError:
            return SealBridgeError("PLATFORM_RESPONSE_INVALID", why)

        if not isinstance(envelope, dict) or not isinstance(envelope.get("response"), dict):
            raise bad("not a signed platform response")
        response = envelope["response"]
        sha = envelope.get("cert_sha256")
        cert = self._trusted.get(sha) if isinstance(sha, str) else None
        if cert is None:
            raise bad(f"signed by an untrusted certificate ({str(sha)[:16]}…)")
        if envelope.get("signature_algorithm") != OID_SM2_SM3 or response.get("platform_cert") != sha:
            raise bad("wrong signature algorithm or certificate binding")
        try:
            signature = base64.b64decode(envelope.get("signature", ""), validate=True)
            data = canonical_json(response)
        except (ValueError, TypeError):
            raise bad("undecodable signature or response") from None
        if not signature or not verify_signature(cert, OID_SM2_SM3, data, signature):
            raise bad("the signature does not verify with the platform certificate")
        if response.get("type") != kind or not isinstance(response.get("produced_at"), str):
            raise bad(f"expected a {kind} response")
        return response

    # -- status ---------------------------------------------------------------------------------------
    def _cache_path(self, esid: str) -> Path | None:
        if not self.cache_dir:
            return None
        return self.cache_dir / "status" / (hashlib.sha256(esid.encode()).hexdigest() + ".json")

    def _answer(self, response: dict[str, Any], at: datetime | None, from_cache: bool) -> StatusAnswer:
        try:
            answer = StatusAnswer(
                esid=response["esID"],
                status=response["status"],
                since=response.get("since"),
                produced_at=response["produced_at"],
                from_cache=from_cache,
                body=response,
            )
            if from_cache:
                # Re-derive from the signed history: "now" has moved on since the answer was produced.
                hist, vs, ve = response["history"], response["valid_start"], response["valid_end"]
                answer.status, answer.since = status_at(hist, vs, ve, platform_time(datetime.now(UTC)))
                if at is not None:
                    answer.at = platform_time(at)
                    answer.status_at = status_at(hist, vs, ve, answer.at)[0]
            elif at is not None:
                answer.at, answer.status_at = response["at"], response["status_at"]
        except (KeyError, TypeError):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "status response misses fields") from None
        return answer

    async def status(self, esid: str, at: datetime | None = None) -> StatusAnswer:
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        try:
            await self._ensure_trust()
            params = {"at": platform_time(at)} if at else None
            path = f"/api/v1/seals/{_quote(esid)}/status"
            http_status, body = await self._request("GET", path, params=params)
        except SealBridgeError as err:
            if err.code != "PLATFORM_UNREACHABLE":
                raise
            return self._from_cache(esid, at, err)
        if http_status != 200:
            self._raise_error(http_status, body)
        response = self.verify_envelope(body, "seal-status")
        if response.get("esID") != esid or (at is not None and response.get("at") != platform_time(at)):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "the answer is about another seal or time")
        age = time.time() - _parse(response["produced_at"]).timestamp()
        if abs(age) > CLOCK_SKEW_S:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"stale or future answer ({int(age)} s old)")
        cache = self._cache_path(esid)
        if cache:
            atomic_write(cache, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        return self._answer(response, at, from_cache=False)

    def _from_cache(self, esid: str, at: datetime | None, cause: SealBridgeError) -> StatusAnswer:
        cache = self._cache_path(esid)
        if cache is None or not cache.exists() or not self._trusted:
            raise cause
        try:
            envelope = json.loads(cache.read_bytes())
        except (OSError, ValueError):
            raise cause from None
        response = self.verify_envelope(envelope, "seal-status")  # a file edited on disk is refused here
        if response.get("esID") != esid:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "cached answer is about another seal")
        age = time.time() - _parse(response["produced_at"]).timestamp()
        if age > self.grace_seconds:
            raise SealBridgeError(
                "PLATFORM_UNREACHABLE",
                f"{cause.detail}; the cached status is {int(age)} s old (grace {int(self.grace_seconds)} s)",
            )
        return self._answer(response, at, from_cache=True)

    @property
    def trusted_fingerprints(self) -> list[str]:
        """SHA-256 (hex) of the platform certificates whose signed answers this client accepts."""
        return sorted(self._trusted)

    async def require_active(self, esid: str, cert_der: bytes | None = None) -> StatusAnswer:
        """The seal's status if it is active; given the signing certificate, also refuse (SEAL_NOT_FOR_SIGNER)
        one that neither holds the seal nor is authorized now — an ended or withdrawn authorization leaves
        the certificate inside seal DERs made while it lasted."""
        answer = await self.status(esid)
        if answer.status != "active":
            code = _REFUSALS.get(answer.status, "SEAL_NOT_FOUND")
            raise SealBridgeError(code, f"seal {esid}: {answer.describe()}", {"esID": esid})
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
            return platform_error_check(err.code, esid)

    async def seals_for_cert(self, cert_der: bytes) -> list[dict[str, Any]]:
        """Seals usable by this certificate (held or authorized), each with `seal_der` bytes."""
        sha = hashlib.sha256(cert_der).hexdigest()
        status, body = await self._request("GET", "/api/v1/seals", params={"cert": sha})
        if status != 200:
            self._raise_error(status, body)
        try:
            seals = list(body["seals"])
            for s in seals:
                s["seal_der"] = base64.b64decode(s["seal_der"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "malformed seal list") from None
        return seals

    # -- usage (durable queue) ------------------------------------------------------------------------
    async def report_usage(self, records: list[dict[str, Any]] | None = None, **one: Any) -> int:
        """Queue records on disk, then try to send the queue. Returns how many records are still queued.

        Also accepts one record as keywords: esid, document_sm3, origin, cert_serial, action, at.
        """
        if one:
            records = [_record_from_keywords(one)]
        for rec in records or []:
            rec = dict(rec)
            rec.setdefault("id", uuid.uuid4().hex)
            if not isinstance(rec["id"], str) or not _RECORD_ID.fullmatch(rec["id"]):
                # The id becomes a file name in the queue directory (and the platform's idempotency key).
                raise SealBridgeError(
                    "BAD_REQUEST", "a usage record id must be 8-128 characters [0-9A-Za-z_-]"
                )
            rec.setdefault("at", platform_time(datetime.now(UTC)))
            if self.cache_dir:
                atomic_write(self.cache_dir / "usage-queue" / f"{rec['id']}.json", canonical_json(rec))
            else:
                self._memory_queue().append(rec)
        return await self.flush_usage()

    def _memory_queue(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_mem_queue"):
            self._mem_queue: list[dict[str, Any]] = []
        return self._mem_queue

    def pending_usage(self) -> list[dict[str, Any]]:
        if not self.cache_dir:
            return list(self._memory_queue())
        out = []
        for path in sorted((self.cache_dir / "usage-queue").glob("*.json")):
            try:
                out.append(json.loads(path.read_bytes()))
            except (OSError, ValueError):
                continue  # a torn write from a crash: the record was never acknowledged to the caller
        return out

    async def flush_usage(self) -> int:
        if self._usage_lock is None:
            self._usage_lock = asyncio.Lock()
        async with self._usage_lock:
            pending = self.pending_usage()
            for i in range(0, len(pending), USAGE_BATCH):
                batch = pending[i : i + USAGE_BATCH]
                try:
                    status, body = await self._request("POST", "/api/v1/usage", json={"records": batch})
                except SealBridgeError:
                    break  # unreachable: keep the queue for the next try
                if status != 200 or not isinstance(body, dict):
                    break  # refused (bad record?) — kept, and visible through pending_usage()
                # Only ids we sent in this batch: an acknowledged id names a file to delete, so an id the
                # answer invents (say "../../x") must never reach the file system.
                sent = {rec.get("id") for rec in batch if isinstance(rec, dict)}
                acked = [*_str_list(body.get("accepted")), *_str_list(body.get("duplicate"))]
                self._drop_queued({rec_id for rec_id in acked if rec_id in sent})
            return len(self.pending_usage())

    def _drop_queued(self, ids: set[str]) -> None:
        if not self.cache_dir:
            self._mem_queue = [r for r in self._memory_queue() if r["id"] not in ids]
            return
        for rec_id in ids:
            try:
                (self.cache_dir / "usage-queue" / f"{rec_id}.json").unlink()
            except FileNotFoundError:
                pass


def _record_from_keywords(kw: dict[str, Any]) -> dict[str, Any]:
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


def _quote(esid: str) -> str:
    from urllib.parse import quote

    return quote(esid, safe="")


class _LoopThread:
    """A private event loop on a daemon thread, so synchronous callers can use the async client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="platform-client", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def make_status_lookup(
    url: str,
    trusted_certs: list[bytes] | None = None,
    cache_dir: str | Path | None = None,
    grace_seconds: float = 24 * 3600,
    timeout: float = 10.0,
):  # -> stamping.options.StatusLookup
    """A synchronous (esID, signed_at) → Check for the verifier, e.g. "revoked now (since …), active at signing
    time". Trust: the given certificates, else the platform certificate fetched on first use."""
    runner = _LoopThread()
    client = PlatformClient(url, trusted_certs, cache_dir, grace_seconds, timeout)

    def lookup(esid: str, signed_at: datetime | None, cert_der: bytes | None = None) -> Check:
        try:
            return runner.run(client.status_check(esid, signed_at, cert_der), timeout + 5)
        except Exception as exc:  # noqa: BLE001 - a platform problem makes the check unknown, not a crash
            return Check.unknown("PLATFORM_UNREACHABLE", error_code=type(exc).__name__)

    def close() -> None:
        runner.run(client.close(), 5)
        runner.loop.call_soon_threadsafe(runner.loop.stop)

    lookup.client = client  # type: ignore[attr-defined]
    lookup.close = close  # type: ignore[attr-defined]  # optional: release the HTTP session and the thread
    return lookup
