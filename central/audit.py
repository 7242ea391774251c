"""The platform's append-only, hash-chained audit log (Art. 18, 24).

The chain is formats.hashchain (shared with the agent's audit log); the canonical record here is the canonical
JSON of {seq, at, actor, action, subject, data}. The chain head (last seq and hash) lives in its own row, which
every writer updates first: that row lock serializes appends on PostgreSQL, and on SQLite writers already
hold the database write lock. Deleting the tail is caught by comparing the head with the last record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from central.db import Tx
from central.timeutil import iso, utcnow
from formats.canonjson import canonical_json
from formats.hashchain import ChainEntry, ChainVerdict, link, walk


def record_bytes(seq: int, at: str, actor: str, action: str, subject: str, data: str) -> bytes:
    return canonical_json(
        {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "data": data}
    )


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
    digest = link(prev, record_bytes(seq, at, actor, action, subject, data_text))
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, data_text, prev, digest),
    )
    tx.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (digest,))
    return seq, at


def _entries(tx: Tx, batch: int) -> Iterator[ChainEntry]:
    last = 0
    while True:
        rows = tx.execute(
            "SELECT seq, at, actor, action, subject, data, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, batch),
        )
        if not rows:
            return
        for seq, at, actor, action, subject, data, prev_hash, digest in rows:
            last = int(seq)
            try:
                json.loads(data)
            except ValueError:
                yield ChainEntry(last, prev_hash, digest, None, "data is not JSON")
                continue
            yield ChainEntry(last, prev_hash, digest, record_bytes(last, at, actor, action, subject, data))


def verify_chain(tx: Tx, batch: int = 2000) -> ChainVerdict:
    """Walk the whole chain; name the first record whose content, link or position is wrong. Deleting the
    tail is caught by comparing the head row with the last record."""
    verdict = walk(_entries(tx, batch))
    if not verdict.ok:
        return verdict
    head = tx.one("SELECT seq, hash FROM audit_head WHERE id = 1")
    if head is None or int(head[0]) != verdict.count or head[1] != verdict.head_hash:
        return ChainVerdict(
            False,
            verdict.count,
            verdict.count + 1,
            "chain head does not match the last record (records removed?)",
            verdict.head_hash,
        )
    return verdict


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
