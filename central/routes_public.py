"""Public API (Art. 9, 20, 28): status (signed), seals by certificate, usage reports, verification, time-stamps."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from central import queries, tsa, usage
from central.certs import cert_sha256, parse_sha256
from central.evidence import issue_evidence
from central.http_util import b64, error_response, field, json_response, only_keys, read_json
from central.identity import platform_certificates
from central.ratelimit import TokenBuckets, bucket_key
from central.service import Central
from central.timeutil import parse_time
from central.verify_service import verify_document
from formats.errors import SealBridgeError

MAX_BATCH = 100
VERIFY_COST = 10.0
VERIFY_SLOTS = web.AppKey("verify_slots", asyncio.Semaphore)
CENTRAL = web.AppKey("central", Central)
LIMITER = web.AppKey("limiter", TokenBuckets)


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


@web.middleware
async def rate_limit_middleware(request: web.Request, handler):
    if request.path.startswith("/api/v1/") and not request.path.startswith("/api/v1/admin/"):
        # Verification parses and checks a whole document: it costs as much as many status queries.
        cost = VERIFY_COST if request.path == "/api/v1/verify" else 1.0
        wait = request.app[LIMITER].take(bucket_key(request.remote), cost)
        if wait > 0:
            retry = str(max(1, int(wait + 0.999)))
            return error_response(
                SealBridgeError("RATE_LIMITED", f"retry after {retry} s"), {"Retry-After": retry}
            )
    return await handler(request)


def _cache_headers(central: Central) -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={central.settings.status_max_age}"}


def _at(request: web.Request) -> Any:
    value = request.query.get("at")
    return parse_time(value, "at") if value else None


async def get_status(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    esid = request.match_info["esid"]
    if not 1 <= len(esid) <= 128:
        raise SealBridgeError("BAD_REQUEST", "esID length")
    signed = await central.status(esid, _at(request))
    return json_response(signed, headers=_cache_headers(central))


async def post_status(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    body = await read_json(request, 64 * 1024)
    only_keys(body, {"esIDs", "at"})
    esids = field(body, "esIDs", list)
    if not 1 <= len(esids) <= MAX_BATCH or not all(isinstance(e, str) and 1 <= len(e) <= 128 for e in esids):
        raise SealBridgeError("BAD_REQUEST", f"esIDs must be 1 to {MAX_BATCH} strings")
    at = field(body, "at", str, required=False)
    signed = await central.status_batch(list(dict.fromkeys(esids)), parse_time(at, "at") if at else None)
    return json_response(signed, headers=_cache_headers(central))


async def get_seals(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    sha = parse_sha256(request.query.get("cert", ""))
    seals = await central.db.run(queries.seals_for_cert, sha, write=False)
    for s in seals:
        s["seal_der"] = b64(s["seal_der"])
    return json_response({"cert_sha256": sha, "seals": seals})


async def post_usage(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    records = usage.parse_records(await read_json(request, 512 * 1024))
    result = await central.db.run(usage.store, records, client_ip(request))
    return json_response(result)


async def post_verify(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    limit = central.settings.max_document
    if request.content_length is not None and request.content_length > limit:
        raise SealBridgeError("DOC_TOO_LARGE", f"document over {limit} bytes")
    data = await request.read()
    if not data:
        raise SealBridgeError("BAD_REQUEST", "send the document bytes as the request body")
    loop = asyncio.get_running_loop()
    evidence = request.query.get("evidence")
    if evidence not in (None, "pdf"):
        raise SealBridgeError("BAD_REQUEST", "evidence must be pdf")
    if evidence == "pdf":
        name = request.query.get("name") or "document"
        if len(name) > 255:
            raise SealBridgeError("BAD_REQUEST", "name over 255 characters")
        async with request.app[VERIFY_SLOTS]:
            pdf = await loop.run_in_executor(None, issue_evidence, central, data, name)
        return web.Response(body=pdf, content_type="application/pdf")
    async with request.app[
        VERIFY_SLOTS
    ]:  # bounded CPU: a burst of documents queues instead of starving status
        # The report names the platform that answered for the seals' status: this one, by its status key.
        platform = {
            "url": f"{request.scheme}://{request.host}",
            "certificate_sha256": next(
                (p.cert_sha256 for p in central.identity.certificates() if p.role == "status"), None
            ),
        }
        report = await loop.run_in_executor(
            None,
            verify_document,
            central.db,
            data,
            [*central.settings.trust_anchors, *central.tsa_roots()],
            platform,
        )
    return json_response(report)


async def post_tsa(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    if request.content_type != "application/timestamp-query":
        raise SealBridgeError("BAD_REQUEST", "send a DER TimeStampReq as application/timestamp-query")
    if request.content_length is not None and request.content_length > tsa.MAX_REQUEST:
        raise SealBridgeError("DOC_TOO_LARGE", f"time-stamp request over {tsa.MAX_REQUEST} bytes")
    body = await request.content.read(tsa.MAX_REQUEST + 1)
    reply = await central.timestamp(body, client_ip(request))
    return web.Response(body=reply, content_type="application/timestamp-reply")


async def get_platform(request: web.Request) -> web.Response:
    central = request.app[CENTRAL]
    certs = await central.db.run(platform_certificates, write=False)
    current = {role: cert_sha256(der) for role, der in central.identity.published()}
    return json_response(
        {
            "name": "SealBridge central platform",
            "api": "v1",
            "current": current,
            "certificates": [
                {
                    "sha256": c["sha256"],
                    "role": c["role"],
                    "created_at": c["created_at"],
                    "der": b64(c["cert_der"]),
                }
                for c in certs
            ],
        }
    )


async def get_health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/seals/{esid}/status", get_status)
    app.router.add_post("/api/v1/status", post_status)
    app.router.add_get("/api/v1/seals", get_seals)
    app.router.add_post("/api/v1/usage", post_usage)
    app.router.add_post("/api/v1/verify", post_verify)
    app.router.add_post("/api/v1/tsa", post_tsa)
    app.router.add_get("/api/v1/platform", get_platform)
    app.router.add_get("/healthz", get_health)
