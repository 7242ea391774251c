"""Admin API under /api/v1/admin/ (bearer admin tokens): companies, imprints, seals, authorizations, audit."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from central import admin_tokens, audit, authorizations, lifecycle, making, registry, usage
from central.http_util import b64, b64decode, error_response, field, json_response, only_keys, read_json
from central.ratelimit import bucket_key
from central.routes_public import CENTRAL, LIMITER
from central.service import Central
from central.status import history
from formats.errors import SealBridgeError

ACTOR = web.RequestKey("actor", str)


@web.middleware
async def admin_auth_middleware(request: web.Request, handler):
    if not request.path.startswith("/api/v1/admin/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    actor = await request.app[CENTRAL].db.run(admin_tokens.check_token, token, write=False) if token else None
    if actor is None:
        # Failed attempts drain the caller's bucket, so guessing tokens is as slow as the public rate.
        wait = request.app[LIMITER].take(bucket_key(request.remote), cost=5)
        if wait > 0:
            return error_response(SealBridgeError("RATE_LIMITED", "too many failed admin logins"))
        return error_response(
            SealBridgeError("UNAUTHENTICATED", "admin API needs 'Authorization: Bearer <admin token>'"),
            {"WWW-Authenticate": "Bearer"},
        )
    request[ACTOR] = actor
    return await handler(request)


def _central(request: web.Request) -> Central:
    return request.app[CENTRAL]


def _seal_out(seal: dict[str, Any]) -> dict[str, Any]:
    out = dict(seal)
    if "seal_der" in out:
        out["seal_der"] = b64(out["seal_der"])
    return out


async def create_company(request: web.Request) -> web.Response:
    body = await read_json(request)
    only_keys(body, {"uscc", "name"})
    c = _central(request)
    company = await c.db.run(
        registry.create_company, field(body, "uscc", str), field(body, "name", str), request[ACTOR]
    )
    return json_response(company, 201)


async def list_companies(request: web.Request) -> web.Response:
    return json_response({"companies": await _central(request).db.run(registry.list_companies, write=False)})


async def get_company(request: web.Request) -> web.Response:
    c = _central(request)
    company = await c.db.run(registry.get_company, request.match_info["company"], write=False)
    company["imprints"] = await c.db.run(registry.list_imprints, company["id"], write=False)
    return json_response(company)


async def add_imprint(request: web.Request) -> web.Response:
    body = await read_json(request)
    only_keys(body, {"name", "code", "picture_type", "picture", "width_mm", "height_mm"})
    imprint = await _central(request).db.run(
        registry.add_imprint,
        request.match_info["company"],
        field(body, "name", str),
        field(body, "picture_type", str),
        b64decode(body.get("picture"), "picture"),
        field(body, "width_mm", int),
        field(body, "height_mm", int),
        field(body, "code", str, required=False),
        request[ACTOR],
    )
    return json_response(imprint, 201)


def _certs(body: dict[str, Any], name: str = "certs", required: bool = True) -> list[bytes] | None:
    values = field(body, name, list, required=required)
    if values is None:
        return None
    return [b64decode(v, f"{name}[{i}]") for i, v in enumerate(values)]


async def make_seal(request: web.Request) -> web.Response:
    body = await read_json(request)
    only_keys(
        body, {"company", "imprint_id", "kind", "name", "holder", "certs", "valid_start", "valid_end", "esID"}
    )
    c = _central(request)
    seal = await c.db.run(
        making.make_seal,
        c.identity,
        company=field(body, "company", str),
        imprint_id=field(body, "imprint_id", str),
        kind=field(body, "kind", str),
        name=field(body, "name", str),
        holder=field(body, "holder", str),
        certs=_certs(body),
        valid_start=field(body, "valid_start", str, required=False),
        valid_end=field(body, "valid_end", str, required=False),
        esid=field(body, "esID", str, required=False),
        actor=request[ACTOR],
    )
    return json_response(_seal_out(seal), 201)


async def list_seals(request: web.Request) -> web.Response:
    seals = await _central(request).db.run(making.list_seals, request.query.get("company"), write=False)
    return json_response({"seals": seals})


def _seal_detail(tx, esid: str) -> dict[str, Any]:
    seal = making.get_seal(tx, esid)
    seal["history"] = [{"at": a, "status": s, "reason": r} for a, s, r in history(tx, esid)]
    seal["authorizations"] = authorizations.list_authorizations(tx, esid)
    seal["usage"] = usage.usage_for(tx, esid, 50)
    return seal


async def get_seal(request: web.Request) -> web.Response:
    seal = await _central(request).db.run(_seal_detail, request.match_info["esid"], write=False)
    return json_response(_seal_out(seal))


async def seal_action(request: web.Request) -> web.Response:
    body = await read_json(request) if request.can_read_body else {}
    only_keys(body, {"reason"})
    action = request.match_info["action"]
    seal = await _central(request).db.run(
        lifecycle.change_status, request.match_info["esid"], action, body.get("reason"), request[ACTOR]
    )
    return json_response(seal)


async def renew_seal(request: web.Request) -> web.Response:
    body = await read_json(request) if request.can_read_body else {}
    only_keys(body, {"certs", "valid_end", "imprint_id", "name", "holder", "esID", "reason"})
    c = _central(request)
    result = await c.db.run(
        lifecycle.renew,
        c.identity,
        request.match_info["esid"],
        request[ACTOR],
        certs=_certs(body, required=False),
        valid_end=field(body, "valid_end", str, required=False),
        imprint_id=field(body, "imprint_id", str, required=False),
        name=field(body, "name", str, required=False),
        holder=field(body, "holder", str, required=False),
        new_esid=field(body, "esID", str, required=False),
        reason=body.get("reason"),
    )
    return json_response({"old": result["old"], "new": _seal_out(result["new"])}, 201)


async def grant(request: web.Request) -> web.Response:
    body = await read_json(request)
    only_keys(body, {"cert", "grantee", "not_after", "not_before"})
    c = _central(request)
    auth = await c.db.run(
        authorizations.grant,
        c.identity,
        request.match_info["esid"],
        b64decode(body.get("cert"), "cert"),
        field(body, "grantee", str),
        field(body, "not_after", str),
        request[ACTOR],
        field(body, "not_before", str, required=False),
    )
    return json_response(auth, 201)


async def list_grants(request: web.Request) -> web.Response:
    auths = await _central(request).db.run(
        authorizations.list_authorizations, request.match_info["esid"], write=False
    )
    return json_response({"authorizations": auths})


async def withdraw(request: web.Request) -> web.Response:
    c = _central(request)
    auth = await c.db.run(authorizations.withdraw, c.identity, request.match_info["auth"], request[ACTOR])
    return json_response(auth)


async def audit_recent(request: web.Request) -> web.Response:
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError:
        raise SealBridgeError("BAD_REQUEST", "limit must be an integer") from None
    records = await _central(request).db.run(audit.recent, limit, request.query.get("subject"), write=False)
    return json_response({"records": records})


async def audit_verify(request: web.Request) -> web.Response:
    verdict = await _central(request).db.run(audit.verify_chain, write=False)
    return json_response(verdict.to_dict())


async def create_token(request: web.Request) -> web.Response:
    body = await read_json(request)
    only_keys(body, {"name"})
    token = await _central(request).db.run(
        admin_tokens.create_token, field(body, "name", str), request[ACTOR]
    )
    return json_response(token, 201)


async def list_tokens(request: web.Request) -> web.Response:
    return json_response({"tokens": await _central(request).db.run(admin_tokens.list_tokens, write=False)})


async def revoke_token(request: web.Request) -> web.Response:
    await _central(request).db.run(admin_tokens.revoke_token, request.match_info["token"], request[ACTOR])
    return json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    r = app.router
    p = "/api/v1/admin"
    r.add_post(f"{p}/companies", create_company)
    r.add_get(f"{p}/companies", list_companies)
    r.add_get(f"{p}/companies/{{company}}", get_company)
    r.add_post(f"{p}/companies/{{company}}/imprints", add_imprint)
    r.add_post(f"{p}/seals", make_seal)
    r.add_get(f"{p}/seals", list_seals)
    r.add_get(f"{p}/seals/{{esid}}", get_seal)
    r.add_post(f"{p}/seals/{{esid}}/{{action:suspend|resume|revoke}}", seal_action)
    r.add_post(f"{p}/seals/{{esid}}/renew", renew_seal)
    r.add_post(f"{p}/seals/{{esid}}/authorizations", grant)
    r.add_get(f"{p}/seals/{{esid}}/authorizations", list_grants)
    r.add_post(f"{p}/authorizations/{{auth}}/withdraw", withdraw)
    r.add_get(f"{p}/audit", audit_recent)
    r.add_get(f"{p}/audit/verify", audit_verify)
    r.add_post(f"{p}/tokens", create_token)
    r.add_get(f"{p}/tokens", list_tokens)
    r.add_post(f"{p}/tokens/{{token}}/revoke", revoke_token)
