"""Seal status bodies now and at a given time, read from the database (Art. 17, 22, 23). How a status follows
from the event history is the shared contract in stamping.platform_status (the agent re-derives cached
answers with the same function)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from central.db import Tx
from central.timeutil import iso, utcnow
from stamping.platform_status import UNKNOWN, status_at


def history(tx: Tx, esid: str) -> list[tuple[str, str, str]]:
    rows = tx.execute("SELECT at, status, reason FROM seal_events WHERE esid = ? ORDER BY seq", (esid,))
    return [(r[0], r[1], r[2]) for r in rows]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def seal_statuses(
    tx: Tx, esids: list[str], at: datetime | None = None, now: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Unsigned status bodies by esID (absent: never made here). Four queries for any number of seals."""
    if not esids:
        return {}
    marks = _marks(len(esids))
    seals = tx.execute(
        "SELECT esid, valid_start, valid_end, replaced_by, replaces, revision, name, kind FROM seals"
        f" WHERE esid IN ({marks})",
        esids,
    )
    events: dict[str, list[tuple[str, str, str]]] = {}
    for esid, ev_at, status, reason in tx.execute(
        f"SELECT esid, at, status, reason FROM seal_events WHERE esid IN ({marks}) ORDER BY esid, seq", esids
    ):
        events.setdefault(esid, []).append((ev_at, status, reason))
    grants: dict[str, list[dict[str, Any]]] = {}
    for esid, sha, nb, na, rev in tx.execute(
        "SELECT esid, cert_sha256, not_before, not_after, revoked_at FROM authorizations"
        f" WHERE esid IN ({marks}) ORDER BY created_at, id",
        esids,
    ):
        grants.setdefault(esid, []).append(
            {"cert_sha256": sha, "not_before": nb, "not_after": na, "revoked_at": rev}
        )
    holders: dict[str, list[str]] = {}
    for esid, sha in tx.execute(
        f"SELECT esid, sha256 FROM seal_certs WHERE esid IN ({marks}) ORDER BY esid, sha256", esids
    ):
        holders.setdefault(esid, []).append(sha)
    now_s = iso(now or utcnow())
    at_s = iso(at) if at is not None else None
    out: dict[str, dict[str, Any]] = {}
    for esid, valid_start, valid_end, replaced_by, replaces, revision, name, kind in seals:
        hist = events.get(esid, [])
        pairs = [(a, st) for a, st, _r in hist]
        status, since, until = status_at(pairs, valid_start, valid_end, now_s)
        body: dict[str, Any] = {
            "esID": esid,
            "name": name,
            "kind": kind,
            "revision": int(revision),
            "status": status,
            "since": since,
            "until": until,
            "valid_start": valid_start,
            "valid_end": valid_end,
            "replaced_by": replaced_by,
            "replaces": replaces,
            "history": [{"at": a, "status": st, "reason": r} for a, st, r in hist],
            # Who may use the seal: its holders, and the authorizations with their windows. A seal DER made
            # while an authorization was active still lists that certificate after it ends or is withdrawn,
            # so the seal alone cannot tell a verifier that the authorization is over; this can.
            "holder_certs": holders.get(esid, []),
            "authorizations": grants.get(esid, []),
            "at": at_s,
            "status_at": None,
            "since_at": None,
            "until_at": None,
        }
        if at_s is not None:
            s_at, since_at, until_at = status_at(pairs, valid_start, valid_end, at_s)
            body.update({"status_at": s_at, "since_at": since_at, "until_at": until_at})
        out[esid] = body
    return out


def seal_status(
    tx: Tx, esid: str, at: datetime | None = None, now: datetime | None = None
) -> dict[str, Any] | None:
    """The unsigned status body of one seal, or None if the platform never made it."""
    return seal_statuses(tx, [esid], at, now).get(esid)


def unknown_status(esid: str, at: datetime | None) -> dict[str, Any]:
    """What a batch answers for an esID the platform never made (signed like the others, so it can't be faked)."""
    return {
        "esID": esid,
        "status": UNKNOWN,
        "at": iso(at) if at else None,
        "status_at": UNKNOWN if at else None,
    }
