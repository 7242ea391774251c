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
from stamping.platform_status import StatusLookup, body_check
from stamping.report import Check


def status_lookup_for(db: Database) -> StatusLookup:
    """A synchronous StatusLookup reading this platform's database (called from the verifier's thread)."""

    def lookup(esid: str, signed_at: datetime | None, cert_der: bytes | None = None) -> Check:
        body = db.run_sync(seal_status, esid, signed_at, utcnow(), write=False)
        if body is None:
            return Check.unknown("PLATFORM_SEAL_NOT_REGISTERED", esid=esid)
        return body_check(body, cert_der, signed_at)

    return lookup


def verify_document(
    db: Database, data: bytes, trust_anchors: list[bytes], platform: dict[str, Any] | None = None
) -> dict[str, Any]:
    doc_format = document_format(data)
    options = VerifyOptions(
        trust_anchors=list(trust_anchors), status_lookup=status_lookup_for(db), platform=platform
    )
    report = doc_format.verify(data, options)
    return report.to_dict()
