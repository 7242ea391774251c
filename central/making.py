"""Seal making (Art. 13-14, 18, 22): a V4 SESeal from a filed imprint, signed by the platform maker key.

The seal's certificate list is the holder's certificates plus every certificate currently authorized to use
it (Art. 12), so a verifier's signer-in-seal check accepts an authorized signer; granting or withdrawing an
authorization re-makes the seal under the same esID (a new revision). Renewal (Art. 22) makes a new seal
with a new esID and cancels the old one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from central import audit
from central.certs import CertFacts, cert_facts
from central.db import Tx
from central.identity import PlatformIdentity
from central.registry import get_company, get_imprint
from central.timeutil import iso, parse_time, utcnow
from formats.errors import SealBridgeError
from formats.gm import sm3
from formats.ses import SealCategory, SealKind
from formats.ses.build import build_seal_v4

VID = "SealBridge-Central"
ESID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{3,63}$")
MAX_CERTS = 16


def parse_kind(value: str) -> SealKind:
    try:
        return SealKind.from_name(value)
    except (ValueError, AttributeError):
        names = ", ".join(k.name.lower() for k in SealKind)
        raise SealBridgeError("BAD_REQUEST", f"unknown seal kind {value!r} (one of {names})") from None


def _new_esid(tx: Tx, uscc: str) -> str:
    # USCC plus a per-company serial: unique, ASCII (IA5String), and readable on a verification report.
    count = tx.one(
        "SELECT COUNT(*) FROM seals WHERE company_id = (SELECT id FROM companies WHERE uscc = ?)", (uscc,)
    )
    n = int(count[0]) + 1 if count else 1
    while tx.one("SELECT 1 FROM seals WHERE esid = ?", (f"{uscc}{n:04d}",)):
        n += 1
    return f"{uscc}{n:04d}"


def _holder_certs(certs: list[bytes]) -> list[CertFacts]:
    if not certs or len(certs) > MAX_CERTS:
        raise SealBridgeError("BAD_REQUEST", f"a seal needs 1 to {MAX_CERTS} bound certificates")
    facts = [cert_facts(c, f"certificate {i + 1}") for i, c in enumerate(certs)]
    if len({f.sha256 for f in facts}) != len(facts):
        raise SealBridgeError("BAD_REQUEST", "the same certificate is listed twice")
    return facts


def _validity(
    valid_start: str | None, valid_end: str | None, facts: list[CertFacts]
) -> tuple[datetime, datetime]:
    start = parse_time(valid_start, "valid_start") if valid_start else utcnow().replace(microsecond=0)
    cert_end = min(f.not_after for f in facts)
    end = parse_time(valid_end, "valid_end") if valid_end else cert_end
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    if end > cert_end:
        # Art. 17: a seal bound to a certificate is valid no longer than the certificate.
        raise SealBridgeError(
            "BAD_REQUEST", f"valid_end {iso(end)} is after the certificate's notAfter {iso(cert_end)}"
        )
    if end <= start:
        raise SealBridgeError("BAD_REQUEST", "valid_end must be after valid_start")
    if end <= utcnow():
        raise SealBridgeError("BAD_REQUEST", "valid_end is in the past")
    return start, end


def _active_authorized(tx: Tx, esid: str) -> list[bytes]:
    now = iso(utcnow())
    rows = tx.execute(
        "SELECT cert_der FROM authorizations WHERE esid = ? AND revoked_at IS NULL AND not_after > ? ORDER BY created_at, id",
        (esid, now),
    )
    return [bytes(r[0]) for r in rows]


def _build(
    identity: PlatformIdentity,
    esid: str,
    name: str,
    kind: SealKind,
    imprint: dict[str, Any],
    certs: list[bytes],
    start: datetime,
    end: datetime,
) -> bytes:
    return build_seal_v4(
        esid=esid,
        name=name,
        seal_type=kind.code,
        vid=VID,
        certs=certs,
        picture=(imprint["picture_type"], imprint["picture"], imprint["width_mm"], imprint["height_mm"]),
        valid_start=start,
        valid_end=end,
        maker_key=identity.maker.key,
        maker_cert_der=identity.maker.cert_der,
    )


def _store_revision(tx: Tx, esid: str, revision: int, der: bytes) -> str:
    digest = sm3(der).hex()
    tx.execute(
        "INSERT INTO seal_revisions (esid, revision, seal_der, sm3, created_at) VALUES (?, ?, ?, ?, ?)",
        (esid, revision, der, digest, iso(utcnow())),
    )
    return digest


def add_event(tx: Tx, esid: str, seq: int, at: str, status: str, reason: str, actor: str) -> None:
    tx.execute(
        "INSERT INTO seal_events (esid, seq, at, status, reason, actor) VALUES (?, ?, ?, ?, ?, ?)",
        (esid, seq, at, status, reason, actor),
    )


def make_seal(
    tx: Tx,
    identity: PlatformIdentity,
    *,
    company: str,
    imprint_id: str,
    kind: str,
    name: str,
    holder: str,
    certs: list[bytes],
    valid_start: str | None = None,
    valid_end: str | None = None,
    esid: str | None = None,
    actor: str,
    replaces: str | None = None,
) -> dict[str, Any]:
    comp = get_company(tx, company)
    imprint = get_imprint(tx, imprint_id, with_picture=True)
    if imprint["company_id"] != comp["id"]:
        raise SealBridgeError("BAD_REQUEST", "the imprint is filed for another company")
    seal_kind = parse_kind(kind)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise SealBridgeError("BAD_REQUEST", "seal name must be 1 to 100 characters")
    if not isinstance(holder, str) or not holder.strip() or len(holder) > 100:
        raise SealBridgeError("BAD_REQUEST", "holder must be 1 to 100 characters")
    name, holder = name.strip(), holder.strip()
    if seal_kind.category is SealCategory.PERSONAL and name != holder:
        raise SealBridgeError("BAD_REQUEST", "Art. 14: a personal seal's text must be the holder's name")
    facts = _holder_certs(certs)
    start, end = _validity(valid_start, valid_end, facts)
    if esid is None:
        esid = _new_esid(tx, comp["uscc"])
    elif not isinstance(esid, str) or not ESID_RE.match(esid):
        raise SealBridgeError("BAD_REQUEST", "esID must be 4-64 ASCII letters, digits, '.', '_' or '-'")
    if tx.one("SELECT 1 FROM seals WHERE esid = ?", (esid,)):
        raise SealBridgeError("CONFLICT", f"esID {esid} is already in use")
    der = _build(identity, esid, name, seal_kind, imprint, [f.der for f in facts], start, end)
    seq, at = audit.append(
        tx,
        actor,
        "seal.make",
        esid,
        {
            "company": comp["uscc"],
            "kind": seal_kind.name.lower(),
            "name": name,
            "holder": holder,
            "imprint_sha256": imprint["sha256"],
            "certs": [f.sha256 for f in facts],
            "valid_start": iso(start),
            "valid_end": iso(end),
            "seal_sm3": sm3(der).hex(),
            "maker_cert": identity.maker.cert_sha256,
            "replaces": replaces,
        },
    )
    tx.execute(
        "INSERT INTO seals (esid, company_id, imprint_id, kind, name, holder, valid_start, valid_end, status,"
        " status_since, revision, seal_der, replaces, replaced_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            esid,
            comp["id"],
            imprint["id"],
            seal_kind.name.lower(),
            name,
            holder,
            iso(start),
            iso(end),
            "active",
            at,
            1,
            der,
            replaces,
            None,
            at,
        ),
    )
    _store_revision(tx, esid, 1, der)
    for f in facts:
        tx.execute(
            "INSERT INTO seal_certs (esid, sha256, cert_der, subject, not_after) VALUES (?, ?, ?, ?, ?)",
            (esid, f.sha256, f.der, f.subject[:500], iso(f.not_after)),
        )
    add_event(
        tx, esid, seq, at, "active", "made" if replaces is None else f"made to replace {replaces}", actor
    )
    return get_seal(tx, esid)


def remake(tx: Tx, identity: PlatformIdentity, esid: str, actor: str, why: str) -> dict[str, Any]:
    """A new revision of the same seal with the current certificate list (holder + authorized)."""
    row = tx.one(
        "SELECT name, kind, imprint_id, valid_start, valid_end, revision FROM seals WHERE esid = ?", (esid,)
    )
    if row is None:
        raise SealBridgeError("SEAL_NOT_FOUND", esid)
    name, kind, imprint_id, vs, ve, revision = row
    holder = [
        bytes(r[0])
        for r in tx.execute("SELECT cert_der FROM seal_certs WHERE esid = ? ORDER BY sha256", (esid,))
    ]
    certs = holder + [c for c in _active_authorized(tx, esid) if c not in holder]
    imprint = get_imprint(tx, imprint_id, with_picture=True)
    der = _build(identity, esid, name, parse_kind(kind), imprint, certs, parse_time(vs), parse_time(ve))
    new_rev = int(revision) + 1
    digest = _store_revision(tx, esid, new_rev, der)
    tx.execute("UPDATE seals SET revision = ?, seal_der = ? WHERE esid = ?", (new_rev, der, esid))
    audit.append(
        tx,
        actor,
        "seal.remake",
        esid,
        {"revision": new_rev, "seal_sm3": digest, "why": why, "certs": len(certs)},
    )
    return get_seal(tx, esid)


def get_seal(tx: Tx, esid: str, with_der: bool = True) -> dict[str, Any]:
    row = tx.one(
        "SELECT s.esid, c.uscc, c.name, s.imprint_id, s.kind, s.name, s.holder, s.valid_start, s.valid_end, s.status,"
        " s.status_since, s.revision, s.seal_der, s.replaces, s.replaced_by, s.created_at"
        " FROM seals s JOIN companies c ON c.id = s.company_id WHERE s.esid = ?",
        (esid,),
    )
    if row is None:
        raise SealBridgeError("SEAL_NOT_FOUND", f"no seal {esid}", {"esID": esid})
    keys = (
        "esID",
        "company_uscc",
        "company_name",
        "imprint_id",
        "kind",
        "name",
        "holder",
        "valid_start",
        "valid_end",
        "status",
        "status_since",
        "revision",
        "seal_der",
        "replaces",
        "replaced_by",
        "created_at",
    )
    out = dict(zip(keys, row, strict=True))
    out["revision"] = int(out["revision"])
    if out["status"] in ("active", "suspended") and out["valid_end"] <= iso(utcnow()):
        out["status"] = "expired"  # derived, never stored: expiry needs no event
    out["certs"] = [
        r[0] for r in tx.execute("SELECT sha256 FROM seal_certs WHERE esid = ? ORDER BY sha256", (esid,))
    ]
    if with_der:
        out["seal_der"] = bytes(out["seal_der"])
    else:
        del out["seal_der"]
    return out


def list_seals(tx: Tx, company: str | None = None) -> list[dict[str, Any]]:
    if company:
        comp = get_company(tx, company)
        rows = tx.execute(
            "SELECT esid FROM seals WHERE company_id = ? ORDER BY created_at, esid", (comp["id"],)
        )
    else:
        rows = tx.execute("SELECT esid FROM seals ORDER BY created_at, esid")
    return [get_seal(tx, r[0], with_der=False) for r in rows]
