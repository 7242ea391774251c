"""Authorizations (Art. 12): a seal holder lets another certificate use the seal until an end date.

The authorized certificate joins the seal's certificate list (the seal is re-made) and the seal is returned by
`GET /api/v1/seals?cert=` for that certificate while the authorization lasts. Withdrawing re-makes it again.
"""

from __future__ import annotations

import uuid
from typing import Any

from central import audit
from central.certs import cert_facts
from central.db import Tx
from central.identity import PlatformIdentity
from central.making import get_seal, remake
from central.timeutil import iso, parse_time, utcnow
from formats.errors import SealBridgeError


def _auth_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = ("id", "esID", "cert_sha256", "grantee", "not_before", "not_after", "revoked_at", "created_at")
    out = dict(zip(keys, row, strict=True))
    now = iso(utcnow())
    out["active"] = out["revoked_at"] is None and out["not_before"] <= now < out["not_after"]
    return out


_COLS = "id, esid, cert_sha256, grantee, not_before, not_after, revoked_at, created_at"


def grant(
    tx: Tx,
    identity: PlatformIdentity,
    esid: str,
    cert_der: bytes,
    grantee: str,
    not_after: str,
    actor: str,
    not_before: str | None = None,
) -> dict[str, Any]:
    seal = get_seal(tx, esid, with_der=False)
    if seal["status"] != "active":
        raise SealBridgeError(
            "CONFLICT", f"only an active seal can be authorized (it is {seal['status']})", {"esID": esid}
        )
    facts = cert_facts(cert_der, "authorized certificate")
    if facts.sha256 in seal["certs"]:
        raise SealBridgeError("CONFLICT", "this certificate already holds the seal")
    if not isinstance(grantee, str) or not grantee.strip() or len(grantee) > 100:
        raise SealBridgeError("BAD_REQUEST", "grantee must be 1 to 100 characters")
    start = parse_time(not_before, "not_before") if not_before else utcnow()
    end = parse_time(not_after, "not_after")
    if end <= start or end <= utcnow():
        raise SealBridgeError("BAD_REQUEST", "not_after must be in the future and after not_before")
    if iso(end) > seal["valid_end"]:
        raise SealBridgeError("BAD_REQUEST", f"not_after is after the seal's validEnd {seal['valid_end']}")
    if end > facts.not_after:
        raise SealBridgeError("BAD_REQUEST", "not_after is after the authorized certificate's notAfter")
    now = iso(utcnow())
    existing = tx.one(
        "SELECT id FROM authorizations WHERE esid = ? AND cert_sha256 = ? AND revoked_at IS NULL AND not_after > ?",
        (esid, facts.sha256, now),
    )
    if existing:
        raise SealBridgeError("CONFLICT", f"this certificate is already authorized ({existing[0]})")
    auth_id = uuid.uuid4().hex
    tx.execute(
        f"INSERT INTO authorizations ({_COLS.replace('revoked_at, ', '')}, cert_der) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (auth_id, esid, facts.sha256, grantee.strip(), iso(start), iso(end), now, facts.der),
    )
    audit.append(
        tx,
        actor,
        "authorization.grant",
        esid,
        {
            "id": auth_id,
            "cert_sha256": facts.sha256,
            "grantee": grantee.strip(),
            "not_before": iso(start),
            "not_after": iso(end),
        },
    )
    remake(tx, identity, esid, actor, f"authorization {auth_id} granted")
    return get_authorization(tx, auth_id)


def withdraw(tx: Tx, identity: PlatformIdentity, auth_id: str, actor: str) -> dict[str, Any]:
    auth = get_authorization(tx, auth_id)
    if auth["revoked_at"] is not None:
        raise SealBridgeError("CONFLICT", "the authorization is already withdrawn")
    seq, at = audit.append(tx, actor, "authorization.withdraw", auth["esID"], {"id": auth_id})
    tx.execute("UPDATE authorizations SET revoked_at = ? WHERE id = ?", (at, auth_id))
    remake(tx, identity, auth["esID"], actor, f"authorization {auth_id} withdrawn")
    return get_authorization(tx, auth_id)


def get_authorization(tx: Tx, auth_id: str) -> dict[str, Any]:
    row = tx.one(f"SELECT {_COLS} FROM authorizations WHERE id = ?", (auth_id,))
    if row is None:
        raise SealBridgeError("NOT_FOUND", f"no authorization {auth_id}")
    return _auth_dict(row)


def list_authorizations(tx: Tx, esid: str) -> list[dict[str, Any]]:
    get_seal(tx, esid, with_der=False)
    rows = tx.execute(f"SELECT {_COLS} FROM authorizations WHERE esid = ? ORDER BY created_at, id", (esid,))
    return [_auth_dict(r) for r in rows]
