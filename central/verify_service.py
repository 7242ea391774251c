"""Art. 28 verification service: a document in, the shared verification report out.

The format is sniffed from the bytes (never from a name); the platform_status check comes from this
platform's own database, at the signing time and now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from central.db import Database
from central.status import seal_status
from central.timeutil import utcnow
from stamping.documents import document_format
from stamping.options import VerifyOptions
from stamping.report import Check
from stamping.seal_users import cert_may_use


def describe(body: dict[str, Any], signed_at: datetime | None, cert_der: bytes | None = None) -> Check:
    """Turn a status body into the report's platform_status check (with the signer certificate: also
    whether it held or was authorized to use the seal at the signing time)."""
    now, since = body["status"], body.get("since") or ""
    when_now = f"{now} now" + (f" (since {since})" if since and now != "active" else "")
    if signed_at is None:
        text = f"{when_now}; signing time unknown"
        return Check.ok(text) if now == "active" else Check.unknown(text)
    at_status = body.get("status_at")
    text = f"{when_now}, {at_status} at signing time ({body.get('at')})"
    if at_status != "active":
        return Check.failed(text)
    if cert_der is not None:
        allowed, why = cert_may_use(body, cert_der, signed_at)
        if allowed is False:
            return Check.failed(f"{text}; {why}")
    return Check.ok(text)


def status_lookup_for(db: Database):  # -> StatusLookup
    """A synchronous StatusLookup reading this platform's database (called from the verifier's thread)."""

    def lookup(esid: str, signed_at: datetime | None, cert_der: bytes | None = None) -> Check:
        body = db.run_sync(seal_status, esid, signed_at, utcnow(), write=False)
        if body is None:
            return Check.unknown(f"seal {esid} was not made by this platform")
        return describe(body, signed_at, cert_der)

    return lookup


def verify_document(db: Database, data: bytes, trust_anchors: list[bytes]) -> dict[str, Any]:
    doc_format = document_format(data)
    options = VerifyOptions(trust_anchors=list(trust_anchors), status_lookup=status_lookup_for(db))
    report = doc_format.verify(data, options)
    return report.to_dict()
