"""Usage reports from agents (Art. 24: use is audited too). Idempotent by the agent's record id.

Every record must be signed by a certificate that held or was authorized to use the seal at the record's
time (stamping/usage_record.py); a request with one record that is not is refused as a whole, before
anything is written, so nothing unauthenticated reaches the audit chain."""

from __future__ import annotations

import re
from typing import Any

from central import audit
from central.db import Tx
from central.status import seal_status
from central.timeutil import iso, norm, parse_time, utcnow
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from stamping.platform_status import cert_may_use
from stamping.usage_record import check_record_signature, record_certificate

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
    "cert",
    "sig_alg",
    "signature",
}
#: Longest value per key: base64 certificates and signatures are longer than the other strings.
MAX_LENGTH = {"cert": 12_000, "signature": 2_000}


def _record(raw: Any, i: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SealBridgeError("BAD_REQUEST", f"records[{i}] must be an object")
    extra = set(raw) - ALLOWED_KEYS
    if extra:
        raise SealBridgeError("BAD_REQUEST", f"records[{i}] has unknown keys: {', '.join(sorted(extra))}")
    rec: dict[str, Any] = {}
    for key in ALLOWED_KEYS:
        value = raw.get(key)
        limit = MAX_LENGTH.get(key, 300)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise SealBridgeError(
                "BAD_REQUEST", f"records[{i}].{key} must be a string (at most {limit} characters)"
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
    # The signature covers the record as the agent wrote it, before any field is normalised here.
    as_signed = {k: v for k, v in rec.items() if v is not None}
    rec["at"] = norm(rec["at"], f"records[{i}].at")
    for key in ("cert_sha256", "doc_sm3_before", "doc_sm3_after"):
        if rec[key] is not None:
            rec[key] = rec[key].lower()
            if not HEX_RE.match(rec[key]):
                raise SealBridgeError("BAD_REQUEST", f"records[{i}].{key} must be 64 hex digits")
    if not rec["signature"] or not rec["cert"]:
        raise SealBridgeError("UNAUTHENTICATED", f"records[{i}] is not signed (cert, sig_alg, signature)")
    ok, why = check_record_signature(as_signed)
    if not ok:
        raise SealBridgeError("FORBIDDEN", f"records[{i}]: the record's signature is not valid: {why}")
    return {k: v for k, v in rec.items() if v is not None}


def parse_records(body: Any) -> list[dict[str, Any]]:
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        raise SealBridgeError("BAD_REQUEST", f'body must be {{"records": [1..{MAX_RECORDS} records]}}')
    return [_record(r, i) for i, r in enumerate(records)]


def authenticate(tx: Tx, records: list[dict[str, Any]]) -> None:
    """Refuse the request unless every (already signature-checked) record names a seal this platform made
    and a certificate that held or was authorized to use it at the record's time (FORBIDDEN)."""
    for i, rec in enumerate(records):
        at = parse_time(rec["at"], f"records[{i}].at")
        body = seal_status(tx, rec["esID"], at)
        if body is None:
            raise SealBridgeError(
                "FORBIDDEN", f"records[{i}]: seal {rec['esID']} was not made by this platform"
            )
        cert = record_certificate(rec)
        allowed, why = cert_may_use(body, cert, at) if cert else (False, "no readable certificate")
        if allowed is not True:
            raise SealBridgeError("FORBIDDEN", f"records[{i}]: {why}")


def store(tx: Tx, records: list[dict[str, Any]], client: str) -> dict[str, list[str]]:
    authenticate(tx, records)
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
