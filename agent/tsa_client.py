"""The agent's RFC 3161 client: the TimeStamper strategy that stamping receives.

Synchronous on purpose: stamping runs in a worker thread, and a token is asked for once per signature
(plus once for pyHanko's size estimate). Every reply goes through stamping.timestamps.reply.accept_reply
(imprint, nonce, TSA certificate EKU and signature) before a token is embedded.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from formats.errors import SealBridgeError
from stamping.timestamps import TimeStamper
from stamping.timestamps.reply import accept_reply, build_request, new_nonce

MAX_REPLY = 256 * 1024  # a token with a certificate chain is a few KB
R = TypeVar("R")
log = logging.getLogger("sealbridge.tsa")


def platform_tsa_url(platform_url: str) -> str:
    return platform_url.rstrip("/") + "/api/v1/tsa"


def configured_timestamper(cfg: Any) -> HttpTimeStamper | None:
    """The agent's TimeStamper: `tsa_url` from the config, else the platform's own service when a platform
    is configured; `tsa_url = ""` turns time-stamping off."""
    url = getattr(cfg, "tsa_url", None)
    if url is None and getattr(cfg, "platform_url", None):
        url = platform_tsa_url(cfg.platform_url)
    return HttpTimeStamper(url) if url else None


def stamp_with_timestamp_policy(
    stamp: Callable[[TimeStamper | None], R], stamper: TimeStamper | None, required: bool
) -> tuple[R, str]:
    """Run `stamp` with the TimeStamper; returns (result, how the time was set: "tsa", "none", or "skipped"
    when the TSA was unreachable and policy makes timestamps optional: then the stamp is made without)."""
    if stamper is None:
        return stamp(None), "none"
    try:
        return stamp(stamper), "tsa"
    except SealBridgeError as err:
        if err.code != "TSA_UNREACHABLE" or required:
            raise
        log.warning("time-stamp authority unreachable, stamping without a timestamp: %s", err.detail)
        return stamp(None), "skipped"


class HttpTimeStamper:
    def __init__(self, url: str, timeout: float = 15.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise SealBridgeError("BAD_REQUEST", f"TSA URL must be http(s): {url}")
        self.url = url
        self.timeout = timeout
        # Never through a proxy from the environment: the platform is named explicitly.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def timestamp(self, digest: bytes, hash_name: str) -> bytes:
        nonce = new_nonce()
        request = urllib.request.Request(
            self.url,
            data=build_request(digest, hash_name, nonce),
            headers={"Content-Type": "application/timestamp-query"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                kind = answer.headers.get_content_type()
                reply = answer.read(MAX_REPLY + 1)
        except urllib.error.HTTPError as exc:
            code = "TSA_UNREACHABLE" if exc.code in (429, 502, 503, 504) else "TIMESTAMP_FAILED"
            raise SealBridgeError(code, f"{self.url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SealBridgeError("TSA_UNREACHABLE", f"{self.url}: {reason}") from None
        if kind != "application/timestamp-reply":
            raise SealBridgeError("TIMESTAMP_FAILED", f"{self.url}: answered {kind}, not a time-stamp reply")
        if len(reply) > MAX_REPLY:
            raise SealBridgeError("TIMESTAMP_FAILED", f"{self.url}: reply over {MAX_REPLY} bytes")
        return accept_reply(reply, digest, hash_name, nonce)


def platform_roots(platform_url: str, timeout: float = 15.0) -> list[bytes]:
    """The platform's root certificates (DER) from GET /api/v1/platform: the anchors its TSA chains to."""
    import base64
    import json

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = platform_url.rstrip("/") + "/api/v1/platform"
    try:
        with opener.open(url, timeout=timeout) as answer:
            body = json.loads(answer.read(4 * 1024 * 1024))
        certs = {c["sha256"]: c for c in body["certificates"]}
        return [
            base64.b64decode(certs[sha]["der"])
            for role, sha in body["current"].items()
            if role.startswith("root-") and sha in certs
        ]
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SealBridgeError("PLATFORM_UNREACHABLE", f"{url}: {getattr(exc, 'reason', exc)}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SealBridgeError("PLATFORM_RESPONSE_INVALID", f"{url}: {type(exc).__name__}") from None
