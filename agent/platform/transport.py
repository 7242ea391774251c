"""HTTP to the central platform: one aiohttp session, JSON answers, and the two ways a call fails that the
rest of the agent acts on — PLATFORM_UNREACHABLE (network, 5xx, 429: try the cache, retry later) and
PLATFORM_RESPONSE_INVALID (an answer that is not what the API promises)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from formats.errors import SealBridgeError


class PlatformTransport:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
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
    def raise_error(status: int, body: Any) -> None:
        """Raise the platform's error answer as our error (its code when this build knows it)."""
        err = body.get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        try:
            raise SealBridgeError(
                code or "PLATFORM_RESPONSE_INVALID", (err or {}).get("detail") or f"HTTP {status}"
            )
        except ValueError:  # a code this build does not know
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"HTTP {status} {code}") from None


def path_segment(value: str) -> str:
    """A value (an esID) as one URL path segment."""
    return quote(value, safe="")
