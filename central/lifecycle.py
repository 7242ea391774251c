"""Seal status changes with history: suspend ⇄ resume, revoke (final), renew (Art. 17, 22, 23).

Expiry is never stored: it follows from validEnd. Every change is an audit record and a seal event; the
event's order is the audit sequence number, so history and audit can never disagree on order.
"""

from __future__ import annotations

from typing import Any

from central import audit
from central.db import Tx
from central.identity import PlatformIdentity
from central.making import add_event, get_seal, make_seal
from formats.errors import SealBridgeError

# action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "suspend": (("active",), "suspended"),
    "resume": (("suspended",), "active"),
    "revoke": (("active", "suspended", "expired"), "revoked"),
}


def _reason(reason: Any) -> str:
    if reason is None:
        return ""
    if not isinstance(reason, str) or len(reason) > 500:
        raise SealBridgeError("BAD_REQUEST", "reason must be a string of at most 500 characters")
    return reason.strip()


def change_status(tx: Tx, esid: str, action: str, reason: Any, actor: str) -> dict[str, Any]:
    if action not in TRANSITIONS:
        raise SealBridgeError("BAD_REQUEST", f"unknown action {action!r}")
    allowed, target = TRANSITIONS[action]
    seal = get_seal(tx, esid, with_der=False)
    if seal["status"] not in allowed:
        raise SealBridgeError(
            "CONFLICT",
            f"cannot {action} a seal that is {seal['status']}",
            {"esID": esid, "status": seal["status"]},
        )
    text = _reason(reason)
    seq, at = audit.append(
        tx, actor, f"seal.{action}", esid, {"from": seal["status"], "to": target, "reason": text}
    )
    tx.execute("UPDATE seals SET status = ?, status_since = ? WHERE esid = ?", (target, at, esid))
    add_event(tx, esid, seq, at, target, text or action, actor)
    return get_seal(tx, esid, with_der=False)


def renew(
    tx: Tx,
    identity: PlatformIdentity,
    esid: str,
    actor: str,
    *,
    certs: list[bytes] | None = None,
    valid_end: str | None = None,
    imprint_id: str | None = None,
    name: str | None = None,
    holder: str | None = None,
    new_esid: str | None = None,
    reason: Any = None,
) -> dict[str, Any]:
    """Art. 22: make a replacement seal (new esID) and cancel the old one, in one transaction."""
    old = get_seal(tx, esid, with_der=False)
    if old["status"] == "revoked":
        raise SealBridgeError("CONFLICT", f"seal {esid} is revoked; make a new seal instead", {"esID": esid})
    if certs is None:
        certs = [bytes(r[0]) for r in tx.execute("SELECT cert_der FROM seal_certs WHERE esid = ?", (esid,))]
    new = make_seal(
        tx,
        identity,
        company=old["company_uscc"],
        imprint_id=imprint_id or old["imprint_id"],
        kind=old["kind"],
        name=name or old["name"],
        holder=holder or old["holder"],
        certs=certs,
        valid_end=valid_end,
        esid=new_esid,
        actor=actor,
        replaces=esid,
    )
    text = _reason(reason) or f"renewed as {new['esID']}"
    seq, at = audit.append(
        tx,
        actor,
        "seal.revoke",
        esid,
        {"from": old["status"], "to": "revoked", "reason": text, "replaced_by": new["esID"]},
    )
    tx.execute(
        "UPDATE seals SET status = 'revoked', status_since = ?, replaced_by = ? WHERE esid = ?",
        (at, new["esID"], esid),
    )
    add_event(tx, esid, seq, at, "revoked", text, actor)
    return {"old": get_seal(tx, esid, with_der=False), "new": new}
