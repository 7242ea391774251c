"""Companies (name + 统一社会信用代码) and their filed physical imprints (同章同模, Art. 13-14).

An imprint is immutable once registered: a seal made from it always carries exactly these picture bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from central import audit
from central.db import Tx
from central.timeutil import iso, utcnow
from formats.errors import SealBridgeError
from formats.uscc import validate_uscc

PICTURE_TYPES = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpg": b"\xff\xd8\xff",
    "gif": b"GIF8",
    "bmp": b"BM",
    "ofd": b"PK\x03\x04",
}
MAX_PICTURE = 2 * 1024 * 1024


def _text(value: Any, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise SealBridgeError(
            "BAD_REQUEST", f"{what} must be a non-empty string of at most {limit} characters"
        )
    return value.strip()


def create_company(tx: Tx, uscc: str, name: str, actor: str) -> dict[str, Any]:
    code = validate_uscc(uscc)
    name = _text(name, "company name")
    if tx.one("SELECT id FROM companies WHERE uscc = ?", (code,)):
        raise SealBridgeError("CONFLICT", f"a company with USCC {code} is already registered")
    company_id = uuid.uuid4().hex
    tx.execute(
        "INSERT INTO companies (id, uscc, name, created_at) VALUES (?, ?, ?, ?)",
        (company_id, code, name, iso(utcnow())),
    )
    audit.append(tx, actor, "company.create", company_id, {"uscc": code, "name": name})
    return get_company(tx, company_id)


def _company_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "uscc": row[1], "name": row[2], "created_at": row[3]}


def get_company(tx: Tx, company_id_or_uscc: str) -> dict[str, Any]:
    row = tx.one(
        "SELECT id, uscc, name, created_at FROM companies WHERE id = ? OR uscc = ?",
        (company_id_or_uscc, company_id_or_uscc.upper()),
    )
    if row is None:
        raise SealBridgeError("NOT_FOUND", f"no company {company_id_or_uscc}")
    return _company_dict(row)


def list_companies(tx: Tx) -> list[dict[str, Any]]:
    return [
        _company_dict(r)
        for r in tx.execute("SELECT id, uscc, name, created_at FROM companies ORDER BY created_at, id")
    ]


def _check_picture(picture_type: str, data: bytes, width_mm: Any, height_mm: Any) -> str:
    ptype = (picture_type or "").lower()
    if ptype not in PICTURE_TYPES:
        raise SealBridgeError("BAD_REQUEST", f"picture type must be one of {', '.join(PICTURE_TYPES)}")
    if not isinstance(data, bytes) or not data or len(data) > MAX_PICTURE:
        raise SealBridgeError("BAD_REQUEST", f"picture must be 1 byte to {MAX_PICTURE // 1024} KiB")
    if not data.startswith(PICTURE_TYPES[ptype]):
        raise SealBridgeError("BAD_REQUEST", f"picture bytes are not {ptype.upper()}")
    for v, what in ((width_mm, "width_mm"), (height_mm, "height_mm")):
        if not isinstance(v, int) or isinstance(v, bool) or not 5 <= v <= 200:
            raise SealBridgeError("BAD_REQUEST", f"{what} must be an integer from 5 to 200 (mm)")
    return ptype


def add_imprint(
    tx: Tx,
    company_id: str,
    name: str,
    picture_type: str,
    picture: bytes,
    width_mm: int,
    height_mm: int,
    code: str | None,
    actor: str,
) -> dict[str, Any]:
    company = get_company(tx, company_id)
    ptype = _check_picture(picture_type, picture, width_mm, height_mm)
    name = _text(name, "imprint name")
    if code is not None:
        code = _text(code, "imprint code (印章编码)", 64)
    imprint_id = uuid.uuid4().hex
    digest = hashlib.sha256(picture).hexdigest()
    tx.execute(
        "INSERT INTO imprints (id, company_id, name, code, picture_type, picture, width_mm, height_mm, sha256, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (imprint_id, company["id"], name, code, ptype, picture, width_mm, height_mm, digest, iso(utcnow())),
    )
    audit.append(
        tx,
        actor,
        "imprint.register",
        imprint_id,
        {"company": company["uscc"], "name": name, "code": code, "sha256": digest},
    )
    return get_imprint(tx, imprint_id)


def get_imprint(tx: Tx, imprint_id: str, with_picture: bool = False) -> dict[str, Any]:
    row = tx.one(
        "SELECT id, company_id, name, code, picture_type, width_mm, height_mm, sha256, created_at, picture"
        " FROM imprints WHERE id = ?",
        (imprint_id,),
    )
    if row is None:
        raise SealBridgeError("NOT_FOUND", f"no imprint {imprint_id}")
    out = {
        "id": row[0],
        "company_id": row[1],
        "name": row[2],
        "code": row[3],
        "picture_type": row[4],
        "width_mm": int(row[5]),
        "height_mm": int(row[6]),
        "sha256": row[7],
        "created_at": row[8],
    }
    if with_picture:
        out["picture"] = bytes(row[9])
    return out


def list_imprints(tx: Tx, company_id: str) -> list[dict[str, Any]]:
    company = get_company(tx, company_id)
    rows = tx.execute(
        "SELECT id FROM imprints WHERE company_id = ? ORDER BY created_at, id", (company["id"],)
    )
    return [get_imprint(tx, r[0]) for r in rows]
