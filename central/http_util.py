"""HTTP plumbing: SealBridgeError → JSON error with a status code, JSON bodies, base64 fields."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from formats.errors import SealBridgeError

log = logging.getLogger("sealbridge.central")

HTTP_STATUS = {
    "BAD_REQUEST": 400,
    "CERT_INVALID": 400,
    "DOC_MALFORMED": 400,
    "DOC_UNSUPPORTED": 415,
    "DOC_TOO_LARGE": 413,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "SEAL_NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return web.Response(
        text=body, status=status, content_type="application/json", charset="utf-8", headers=headers
    )


def error_response(err: SealBridgeError, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": err.to_dict()}, HTTP_STATUS.get(err.code, 422), headers)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
):
    try:
        return await handler(request)
    except SealBridgeError as err:
        return error_response(err)
    except web.HTTPRequestEntityTooLarge:
        return error_response(SealBridgeError("DOC_TOO_LARGE", "request body too large"))
    except web.HTTPException as exc:
        if exc.status >= 400:
            code = {404: "NOT_FOUND", 405: "BAD_REQUEST", 401: "UNAUTHENTICATED"}.get(
                exc.status, "BAD_REQUEST"
            )
            return json_response({"error": SealBridgeError(code, exc.reason).to_dict()}, exc.status)
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(SealBridgeError("INTERNAL", "see the server log"))


async def read_json(request: web.Request, limit: int = 4 * 1024 * 1024) -> Any:
    if request.content_length is not None and request.content_length > limit:
        raise SealBridgeError("DOC_TOO_LARGE", f"JSON body over {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise SealBridgeError("DOC_TOO_LARGE", f"JSON body over {limit} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SealBridgeError("BAD_REQUEST", "body is not valid JSON") from None


def b64decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SealBridgeError("BAD_REQUEST", f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SealBridgeError("BAD_REQUEST", f"{what} is not valid base64") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def field(body: Any, name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    if not isinstance(body, dict):
        raise SealBridgeError("BAD_REQUEST", "body must be a JSON object")
    value = body.get(name)
    if value is None:
        if required:
            raise SealBridgeError("BAD_REQUEST", f"{name} is required")
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SealBridgeError("BAD_REQUEST", f"{name} has the wrong type")
    return value


def only_keys(body: Any, allowed: set[str]) -> None:
    if not isinstance(body, dict):
        raise SealBridgeError("BAD_REQUEST", "body must be a JSON object")
    extra = set(body) - allowed
    if extra:
        raise SealBridgeError("BAD_REQUEST", f"unknown keys: {', '.join(sorted(extra))}")
