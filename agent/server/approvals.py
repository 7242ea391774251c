"""Per-site policy, rate limits and the approval step between a page's `stamp` and the signature.

Site policy (keyed by page origin). The administrator's table in the config decides first: `allowed`,
`denied`. Any other site is the user's to decide, in the extension's own prompt window (allow once / always /
deny); the extension keeps that decision, the one list there is, and sends it with each call as the origin's
`grant`. Without a grant the agent refuses (ORIGIN_NOT_ALLOWED): it never acts for a site the extension has
not approved. `default_site_policy` sets what unlisted sites get: `asks` (the user may grant them), `denied`
(prompting off: only the administrator's sites), `allowed` (every site, still approved stamp by stamp).
Plain http:// sites are denied unless the administrator lists them. For a framed request the stricter policy
of the top-level and the frame origin applies.

One approval per top-level origin may be open at a time (a page cannot stack dialogs). A stamp waits on
its approval until the extension's window calls `approve` with the request id, the chosen seal and the PIN;
a wrong PIN answers that `approve` call and keeps the approval open for another try.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.config import AgentConfig
from formats.errors import SealBridgeError

_RANK = {"allowed": 0, "asks": 1, "denied": 2}
GRANTS = ("once", "always", "managed")  # how the extension approved a site (its prompt, or managed policy)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


_DEFAULT_PORTS = {"https": 443, "http": 80}


def site_key(origin: str) -> str:
    """One spelling per site for policy, rate limits and the one-dialog-per-site rule: lowercase, no trailing
    dot on the host, no default port. Browsers keep "https://denied.example." (trailing dot) as an origin of
    its own, which would otherwise slip past an administrator's "https://denied.example": denied."""
    try:
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except ValueError:
        return origin.lower()
    if not parts.scheme or not host:
        return origin.lower()
    host = host.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class SitePolicy:
    def __init__(self, cfg: AgentConfig):
        self.cfg = cfg

    def _admin(self) -> dict[str, str]:
        # Normalised per call: the config object may be edited in place (tests, a future reload).
        return {site_key(k): v for k, v in self.cfg.site_policy.items()}

    def prompting(self) -> bool:
        """Whether the user may approve sites the administrator has not listed."""
        return self.cfg.default_site_policy != "denied"

    def admin_lists(self) -> dict[str, Any]:
        """What the extension needs to know of the administrator's policy (hello): listed sites, prompting."""
        admin = self._admin()
        return {
            "prompt": self.prompting(),
            "allowed": sorted(o for o, p in admin.items() if p == "allowed")[:1000],
            "denied": sorted(o for o, p in admin.items() if p == "denied")[:1000],
        }

    def of(self, origin: str, grant: str | None = None) -> str:
        """`allowed` or `denied` for a site, given the extension's grant (None: the extension sent none)."""
        origin = site_key(origin)
        admin = self._admin().get(origin)
        if admin in ("allowed", "denied"):
            return admin
        if origin.startswith("http://"):
            local = urlsplit(origin).hostname in _LOCAL_HOSTS
            if not (self.cfg.allow_insecure_sites and local):
                return "denied"
        default = admin or self.cfg.default_site_policy
        if default == "allowed":
            return "allowed"
        if default == "denied":
            return "denied"
        return "allowed" if grant in GRANTS else "asks"

    def for_request(self, top: str, frame: str, grant: str | None = None) -> str:
        return max(self.of(top, grant), self.of(frame, grant), key=_RANK.__getitem__)


class RateLimiter:
    """At most `per_minute` calls per key in any sliding 60 s window."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    MAX_KEYS = 10_000  # origins tracked at once; idle ones are dropped (wildcard subdomains cost nothing)

    def check(self, key: str) -> None:
        key = site_key(key)
        now = time.monotonic()
        if len(self._hits) >= self.MAX_KEYS:
            self._prune(now)
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > 60.0:
            hits.popleft()
        if len(hits) >= self.per_minute:
            raise SealBridgeError("RATE_LIMITED", f"more than {self.per_minute} requests a minute from {key}")
        hits.append(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or now - h[-1] > 60.0]:
            del self._hits[key]


@dataclass
class Attempt:
    """One `approve` call: the seal chosen and the PIN, and the answer that call is waiting for."""

    seal_id: str
    pin: str | None = field(repr=False)  # never printed
    answer: asyncio.Future[None]
    include: list[int] | None = None  # a batch: the documents left ticked (None: all)


@dataclass
class PendingApproval:
    request_id: str
    call_id: Any
    session_id: str
    origin_top: str
    origin_frame: str
    document: dict[str, Any]  # name, size, sm3, format, page_count
    placements: list[dict[str, Any]]
    seal_hint: str | None
    site_policy: str
    data: bytes = field(repr=False, default=b"")  # the document, for previews
    attempts: asyncio.Queue[Attempt] = field(default_factory=asyncio.Queue)
    in_flight: Attempt | None = None
    closed: bool = False
    cancelled: bool = False
    stage: str = "approval"  # approval -> signing
    candidates: set[str] = field(default_factory=set)  # seal ids present when the request opened
    chosen: str | None = None  # the seal of the latest approve attempt
    previews: int = 0
    max_previews: int = 100  # the window re-renders when the user picks another seal; bounded per request
    signer: Any = field(repr=False, default=None)  # set by a successful login, dropped after stamping
    signer_entry: Any = field(repr=False, default=None)  # the seal whose token `signer` is logged in to
    early: Any = field(repr=False, default=None)  # the stamp started with that login (methods/early.py)

    def summary(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "call_id": self.call_id,
            "origin": {"top": self.origin_top, "frame": self.origin_frame},
            "document": self.document,
            "placements": self.placements,
            "seal_id": self.seal_hint,
            "site_policy": self.site_policy,
        }

    def preview_target(self, index: int | None) -> tuple[bytes, str, list[dict[str, Any]], str | None]:
        """(document bytes, format, placements, seal asked for) that `preview` renders; a batch picks one
        document by index."""
        if index not in (None, 0):
            raise SealBridgeError("BAD_REQUEST", "this request has one document (index 0)")
        return self.data, self.document["format"], self.placements, self.seal_hint

    def mark_shown(self, index: int | None) -> None:
        """A preview of the document was rendered for the window (a batch records which)."""

    def cancel_running(self) -> str:
        """`cancel` after the approval: a single document is already being signed."""
        return "too_late"


class Approvals:
    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._by_id: dict[str, PendingApproval] = {}
        self._by_origin: dict[str, str] = {}

    def open(self, factory: type[PendingApproval] = PendingApproval, **kwargs: Any) -> PendingApproval:
        top = site_key(kwargs["origin_top"])
        if top in self._by_origin:
            raise SealBridgeError("BUSY", f"{top} already has a stamping request waiting for approval")
        req = factory(request_id=secrets.token_hex(16), **kwargs)
        self._by_id[req.request_id] = req
        self._by_origin[top] = req.request_id
        return req

    def get(self, request_id: str, session_id: str | None = None) -> PendingApproval:
        """The open request; with `session_id`, only if that connection opened it. Another connection gets
        the same NOT_FOUND as an unknown id, so a request id is no bearer token (the extension's window
        speaks through the service worker's one connection, the same that sent `stamp`)."""
        req = self._by_id.get(request_id)
        if req is None or (session_id is not None and req.session_id != session_id):
            raise SealBridgeError("NOT_FOUND", f"no open request {request_id}")
        return req

    def close(self, req: PendingApproval) -> None:
        req.closed = True
        self._by_id.pop(req.request_id, None)
        if self._by_origin.get(site_key(req.origin_top)) == req.request_id:
            del self._by_origin[site_key(req.origin_top)]
        while not req.attempts.empty():
            att = req.attempts.get_nowait()
            if not att.answer.done():
                att.answer.set_exception(SealBridgeError("CONFLICT", "the request is closed"))

    def open_count(self) -> int:
        return len(self._by_id)

    # -- called by `approve` / `cancel` ---------------------------------------------------------------------

    def submit(
        self,
        request_id: str,
        seal_id: str,
        pin: str | None,
        session_id: str | None = None,
        include: list[int] | None = None,
    ) -> asyncio.Future[None]:
        req = self.get(request_id, session_id)
        if req.stage != "approval" or req.in_flight is not None or not req.attempts.empty():
            raise SealBridgeError("CONFLICT", "this request is already being approved")
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        req.attempts.put_nowait(Attempt(seal_id, pin, answer, include))
        return answer

    def cancel(self, request_id: str, session_id: str | None = None) -> str:
        req = self.get(request_id, session_id)
        if req.stage != "approval":
            return req.cancel_running()
        req.cancelled = True
        # Nobody waits on the sentinel's answer; retrieve its outcome so asyncio does not warn about it.
        sentinel: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        sentinel.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        req.attempts.put_nowait(Attempt("", None, sentinel))
        return "cancelled"

    # -- called by the stamping task ------------------------------------------------------------------------

    async def next_attempt(self, req: PendingApproval, deadline: float) -> Attempt:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SealBridgeError("USER_CANCELLED", "the approval timed out")
        try:
            att = await asyncio.wait_for(req.attempts.get(), remaining)
        except TimeoutError:
            raise SealBridgeError("USER_CANCELLED", "the approval timed out") from None
        if req.cancelled:
            if not att.answer.done():
                att.answer.set_exception(SealBridgeError("USER_CANCELLED"))
            raise SealBridgeError("USER_CANCELLED")
        req.in_flight = att
        return att

    @staticmethod
    def answer(req: PendingApproval, err: SealBridgeError | None) -> None:
        att, req.in_flight = req.in_flight, None
        if att is None or att.answer.done():
            return
        if err is None:
            att.answer.set_result(None)
        else:
            att.answer.set_exception(err)
