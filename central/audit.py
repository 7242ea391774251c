"""The platform's append-only, hash-chained audit log (Art. 18, 24).

Each record's hash is SM3(previous hash ‖ canonical record), where the canonical record is the canonical JSON
of {seq, at, actor, action, subject, data}. The chain head (last seq and hash) lives in its own row, which
every writer updates first: that row lock serializes appends on PostgreSQL, and on SQLite writers already
hold the database write lock. Deleting the tail is caught by comparing the head with the last record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from central.db import Tx
from central.migrations import GENESIS_HASH
from central.timeutil import iso, utcnow
from formats.canonjson import canonical_json
from formats.gm import sm3


def record_bytes(seq: int, at: str, actor: str, action: str, subject: str, data: str) -> bytes:
    return canonical_json(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "data": data}
    )


def chain_hash(prev_hash_hex: str, record: bytes) -> str:
    return sm3(bytes.fromhex(prev_hash_hex) + record).hex()


def append(
    tx: Tx, actor: str, action: str, subject: str, data: dict[str, Any] | None = None
) -> tuple[int, str]:
    """Append one record in the caller's transaction; returns (seq, at)."""
    tx.execute("UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
    row = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1")
    assert row is not None, "audit_head row missing (migration 1 creates it)"
    seq, prev = int(row[0]), str(row[1])
    at = iso(utcnow())
    data_text = canonical_json(data or {}).decode("utf-8")
    digest = chain_hash(prev, record_bytes(seq, at, actor, action, subject, data_text))
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, data_text, prev, digest),
    )
    tx.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (digest,))
    return seq, at


@dataclass
class AuditVerdict:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


def verify_chain(tx: Tx, batch: int = 2000) -> AuditVerdict:
    """Walk the whole chain; name the first record whose content, link or position is wrong."""
    prev = GENESIS_HASH
    expected = 1
    count = 0
    last = 0
    while True:
        rows = tx.execute(
            "SELECT seq, at, actor, action, subject, data, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, batch),
        )
        if not rows:
            break
        for seq, at, actor, action, subject, data, prev_hash, digest in rows:
            seq = int(seq)
            if seq != expected:
                return AuditVerdict(False, count, expected, f"record {expected} is missing")
            if prev_hash != prev:
                return AuditVerdict(False, count, seq, "link to the previous record does not match")
            try:
                json.loads(data)
            except ValueError:
                return AuditVerdict(False, count, seq, "data is not JSON")
            if chain_hash(prev, record_bytes(seq, at, actor, action, subject, data)) != digest:
                return AuditVerdict(False, count, seq, "record content does not match its hash")
            prev = digest
            expected += 1
            count += 1
            last = seq
    head = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1")
    if head is None or int(head[0]) != last or head[1] != prev:
        return AuditVerdict(
            False, count, last + 1, "chain head does not match the last record (records removed?)"
        )
    return AuditVerdict(True, count)


def recent(tx: Tx, limit: int = 100, subject: str | None = None) -> list[dict[str, Any]]:
    if subject:
        rows = tx.execute(
            "SELECT seq, at, actor, action, subject, data, hash FROM audit WHERE subject = ? ORDER BY seq DESC LIMIT ?",
            (subject, limit),
        )
    else:
        rows = tx.execute(
            "SELECT seq, at, actor, action, subject, data, hash FROM audit ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
    return [
        {
            "seq": int(r[0]),
            "at": r[1],
            "actor": r[2],
            "action": r[3],
            "subject": r[4],
            "data": json.loads(r[5]),
            "hash": r[6],
        }
        for r in rows
    ]
