"""Usage records signed by the key that stamped (Art. 24: the platform's audit of use is evidence).

The agent signs each record on the token, in the same login as the stamp itself (no second PIN), over the
canonical JSON of the record without its `signature` field. The platform accepts a record only when the
esID is one it made, the certificate in the record held or was authorized to use that seal at the
record's time, and the signature verifies with that certificate: a page, another agent or anyone on the
network can no longer write usage into the audit chain, and a record cannot be altered after signing.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from formats.canonjson import canonical_json
from formats.gm import OID_SM2_SM3
from formats.ses import verify_cert_signature
from stamping.signer import Signer

#: The signature algorithm each Signer.algorithm produces (digest SHA-256 outside SM2).
SIGNATURE_OIDS = {"sm2": OID_SM2_SM3, "rsa": "1.2.840.113549.1.1.11", "ecdsa": "1.2.840.10045.4.3.2"}
SIGNED_FIELDS_EXCLUDE = ("signature",)


def signed_bytes(record: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of every field except the signature itself."""
    return canonical_json({k: v for k, v in record.items() if k not in SIGNED_FIELDS_EXCLUDE})


def sign_record(record: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """`record` with the signer's certificate, its SHA-256, the algorithm and the signature added."""
    out = dict(record)
    out["cert"] = base64.b64encode(signer.certificate).decode()
    out["cert_sha256"] = hashlib.sha256(signer.certificate).hexdigest()
    out["sig_alg"] = SIGNATURE_OIDS[signer.algorithm]
    out["signature"] = base64.b64encode(signer.sign(signed_bytes(out), "sha256")).decode()
    return out


def record_certificate(record: dict[str, Any]) -> bytes | None:
    try:
        return base64.b64decode(record.get("cert") or "", validate=True) or None
    except (ValueError, TypeError):
        return None


def check_record_signature(record: dict[str, Any]) -> tuple[bool, str]:
    """(True, "") when the record's signature verifies with the record's certificate; (False, why)."""
    cert = record_certificate(record)
    if cert is None:
        return False, "the record carries no readable certificate"
    if record.get("cert_sha256") != hashlib.sha256(cert).hexdigest():
        return False, "cert_sha256 does not match the record's certificate"
    try:
        signature = base64.b64decode(record.get("signature") or "", validate=True)
    except (ValueError, TypeError):
        return False, "the signature is not base64"
    status, detail = verify_cert_signature(cert, str(record.get("sig_alg")), signed_bytes(record), signature)
    return status == "ok", detail
