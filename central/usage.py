"""Usage reports from agents (Art. 24: use is audited too). Idempotent by the agent's record id."""

from __future__ import annotations

import re
from typing import Any

from central import audit
from central.db import Tx
from central.timeutil import iso, norm, utcnow
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError

MAX_RECORDS = 100
ID_RE = re.compile(r"^[0-9A-Za-z._:-]{8,128}$")
HEX_RE = re.compile(r"^[0-9a-f]{64}$")
ACTIONS = {"stamp", "verify", "refuse", "approve", "cancel"}
ALLOWED_KEYS = {
    "id",
    "esID",
    "action",
    "at",
    "cert_sha256",
    "doc_sm3_before",
    "doc_sm3_after",
    "origin",
    "frame_origin",
    "result",
    "cert_serial",
    "agent",
}


def _record(raw: Any, i: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SealBridgeError("BAD_REQUEST", f"records[{i}] must be an object")
    extra = set(raw) - ALLOWED_KEYS
    if extra:
        raise SealBridgeError("BAD_REQUEST", f"records[{i}] has unknown keys: {', '.join(sorted(extra))}")
    rec: dict[str, Any] = {}
    for key in ALLOWED_KEYS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 300):
            raise SealBridgeError(
                "BAD_REQUEST", f"records[{i}].{key} must be a string (at most 300 characters)"
            )
        rec[key] = value
    if not rec["id"] or not ID_RE.match(rec["id"]):
        raise SealBridgeError("BAD_REQUEST", f"records[{i}].id must be 8-128 characters [0-9A-Za-z._:-]")
    if not rec["esID"]:
        raise SealBridgeError("BAD_REQUEST", f"records[{i}].esID is required")
    if rec["action"] not in ACTIONS:
        raise SealBridgeError(
            "BAD_REQUEST", f"records[{i}].action must be one of {', '.join(sorted(ACTIONS))}"
        )
    if not rec["at"]:
        raise SealBridgeError("BAD_REQUEST", f"records[{i}].at is required")
    rec["at"] = norm(rec["at"], f"records[{i}].at")
    for key in ("cert_sha256", "doc_sm3_before", "doc_sm3_after"):
        if rec[key] is not None:
            rec[key] = rec[key].lower()
            if not HEX_RE.match(rec[key]):
                raise SealBridgeError("BAD_REQUEST", f"records[{i}].{key} must be 64 hex digits")
    return {k: v for k, v in rec.items() if v is not None}


def parse_records(body: Any) -> list[dict[str, Any]]:
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        raise SealBridgeError("BAD_REQUEST", f'body must be {{"records": [1..{MAX_RECORDS} records]}}')
    return [_record(r, i) for i, r in enumerate(records)]


def store(tx: Tx, records: list[dict[str, Any]], client: str) -> dict[str, list[str]]:
    accepted: list[str] = []
    duplicate: list[str] = []
    now = iso(utcnow())
    for rec in records:
        inserted = tx.execute(
            "INSERT INTO usage_records (id, esid, cert_sha256, action, at, doc_sm3, client, record, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
            (
                rec["id"],
                rec["esID"],
                rec.get("cert_sha256"),
                rec["action"],
                rec["at"],
                rec.get("doc_sm3_after") or rec.get("doc_sm3_before"),
                client,
                canonical_json(rec).decode(),
                now,
            ),
        )
        if inserted:
            audit.append(tx, f"agent@{client}", f"seal.use.{rec['action']}", rec["esID"], rec)
            accepted.append(rec["id"])
        else:
            duplicate.append(rec["id"])
    return {"accepted": accepted, "duplicate": duplicate}


def usage_for(tx: Tx, esid: str, limit: int = 200) -> list[dict[str, Any]]:
    import json

    rows = tx.execute(
        "SELECT record, client, received_at FROM usage_records WHERE esid = ? ORDER BY at DESC, id LIMIT ?",
        (esid, limit),
    )
    return [dict(json.loads(r[0]), client=r[1], received_at=r[2]) for r in rows]
