"""The synchronous StatusLookup for `sealbridge verify --platform URL`: the async PlatformClient run on a
private event loop on a daemon thread, because the verifier calls its lookup from plain synchronous code."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.platform.client import DEFAULT_GRACE_S, PlatformClient
from stamping.platform_status import StatusLookup
from stamping.report import Check


class _LoopThread:
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
    grace_seconds: float = DEFAULT_GRACE_S,
    timeout: float = 10.0,
) -> StatusLookup:
    """A synchronous (esID, signed_at[, cert]) → Check for the verifier, e.g. "revoked now (since …), active at
    signing time". Trust: the given certificates, else the platform certificate fetched on first use."""
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
