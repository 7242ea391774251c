"""Public read side: the seals a certificate may use (the agent's seal store)."""

from __future__ import annotations

from typing import Any

from central.db import Tx
from central.making import get_seal
from central.timeutil import iso, utcnow


def seals_for_cert(tx: Tx, sha256: str) -> list[dict[str, Any]]:
    """Seals the certificate holds or is currently authorized for, that are not revoked or expired.

    Suspended seals are listed (with their status) so the agent can explain why it refuses them.
    """
    now = iso(utcnow())
    found: dict[str, dict[str, Any]] = {}
    for (esid,) in tx.execute("SELECT esid FROM seal_certs WHERE sha256 = ? ORDER BY esid", (sha256,)):
        found[esid] = {"role": "holder", "authorized_until": None, "authorization_id": None}
    rows = tx.execute(
        "SELECT esid, not_after, id FROM authorizations WHERE cert_sha256 = ? AND revoked_at IS NULL"
        " AND not_before <= ? AND not_after > ? ORDER BY esid",
        (sha256, now, now),
    )
    for esid, not_after, auth_id in rows:
        found.setdefault(
            esid, {"role": "authorized", "authorized_until": not_after, "authorization_id": auth_id}
        )
    out = []
    for esid, role in found.items():
        seal = get_seal(tx, esid)
        if seal["status"] not in ("active", "suspended"):
            continue
        entry = {
            k: seal[k]
            for k in (
                "esID",
                "name",
                "kind",
                "holder",
                "company_uscc",
                "company_name",
                "status",
                "valid_start",
                "valid_end",
                "revision",
            )
        }
        entry.update(role)
        entry["seal_der"] = seal["seal_der"]
        out.append(entry)
    return out
