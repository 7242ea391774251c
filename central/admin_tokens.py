"""Admin bearer tokens: shown once at creation, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from central import audit
from central.db import Tx
from central.timeutil import iso, utcnow
from formats.errors import SealBridgeError

PREFIX = "sbadm_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(tx: Tx, name: str, actor: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise SealBridgeError("BAD_REQUEST", "token name must be 1 to 100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4().hex[:16]
    tx.execute(
        "INSERT INTO admin_tokens (id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)",
        (token_id, name.strip(), _hash(token), iso(utcnow())),
    )
    audit.append(tx, actor, "admin.token.create", token_id, {"name": name.strip()})
    return {"id": token_id, "name": name.strip(), "token": token}


def check_token(tx: Tx, token: str) -> str | None:
    """The admin's actor name ("admin:<name>") for a live token, else None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = tx.one(
        "SELECT id, name FROM admin_tokens WHERE token_sha256 = ? AND revoked_at IS NULL", (_hash(token),)
    )
    return f"admin:{row[1]}:{row[0]}" if row else None


def revoke_token(tx: Tx, token_id: str, actor: str) -> None:
    row = tx.one("SELECT revoked_at FROM admin_tokens WHERE id = ?", (token_id,))
    if row is None:
        raise SealBridgeError("NOT_FOUND", f"no admin token {token_id}")
    if row[0] is not None:
        raise SealBridgeError("CONFLICT", "token already revoked")
    tx.execute("UPDATE admin_tokens SET revoked_at = ? WHERE id = ?", (iso(utcnow()), token_id))
    audit.append(tx, actor, "admin.token.revoke", token_id, {})


def list_tokens(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.execute("SELECT id, name, created_at, revoked_at FROM admin_tokens ORDER BY created_at, id")
    return [{"id": r[0], "name": r[1], "created_at": r[2], "revoked_at": r[3]} for r in rows]
