"""The batch manifest: what one approval of a batch covered, signed by the signer's own key.

A batch of documents stamped with one approval (`stamp.batch`) ends with one `batch` audit record. Its
detail holds the manifest — every document's SM3 before and after, its placements and seal, whether its
preview was shown and what became of it, and a link (seq and hash) to that document's own `stamp` record —
plus a signature over the manifest's canonical JSON made by the same token key that stamped the documents,
and that key's certificate. `check_batch` verifies all of it against the audit log: the signature, the
certificate against the record, and every link both ways (the stamp record names the batch and carries the
hashes the manifest states).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

MANIFEST_TYPE = "sealbridge.batch-manifest"
MANIFEST_VERSION = 1

# The signature algorithm the signer's kind produces (stamping.signer.Signer.sign with digest sha256).
_SIG_ALGS = {"sm2": "1.2.156.10197.1.501", "rsa": "sha256_rsa", "ecdsa": "sha256_ecdsa"}


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes the signature covers: sorted keys, no whitespace, UTF-8 (as audit records are hashed)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_manifest(manifest: dict[str, Any], signer: Any) -> dict[str, Any]:
    """The audit detail of a batch record: the manifest, its signature, the algorithm and certificate."""
    signature = signer.sign(canonical(manifest), "sha256")
    return {
        "manifest": manifest,
        "signature": base64.b64encode(signature).decode(),
        "algorithm": signer.algorithm,
        "certificate": base64.b64encode(signer.certificate).decode(),
    }


@dataclass
class BatchCheck:
    ok: bool
    batch_id: str
    seq: int
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "batch_id": self.batch_id,
            "seq": self.seq,
            "problems": self.problems,
            "record": self.record,
        }


def _signature_problem(detail: dict[str, Any], cert_serial: str | None) -> str | None:
    from asn1crypto import x509

    from formats.gm.sigverify import verify_signature

    manifest = detail.get("manifest")
    try:
        signature = base64.b64decode(detail["signature"], validate=True)
        cert_der = base64.b64decode(detail["certificate"], validate=True)
        alg = _SIG_ALGS[detail["algorithm"]]
        cert = x509.Certificate.load(cert_der)
        serial = format(cert.serial_number, "x")
    except (KeyError, ValueError, TypeError) as exc:
        return f"signature fields unreadable: {type(exc).__name__}"
    if cert_serial is not None and serial != cert_serial:
        return f"manifest certificate serial {serial} is not the record's {cert_serial}"
    if not isinstance(manifest, dict) or not verify_signature(cert_der, alg, canonical(manifest), signature):
        return "the manifest signature does not verify with the signer's certificate"
    return None


def _link_problems(doc: dict[str, Any], batch_id: str, by_seq: dict[int, Any]) -> list[str]:
    where = f"document {doc.get('index')}"
    seq = doc.get("audit_seq")
    if seq is None:
        # unticked, or the batch ended before its approval: nothing was attempted for this document
        return [] if doc.get("status") in ("excluded", "ready") else [f"{where}: no stamp record linked"]
    rec = by_seq.get(seq)
    if rec is None:
        return [f"{where}: linked record {seq} is missing"]
    out = []
    if rec.hash != doc.get("audit_hash"):
        out.append(f"{where}: record {seq} has another hash than the manifest states")
    if rec.event != "stamp" or rec.detail.get("batch_id") != batch_id:
        out.append(f"{where}: record {seq} is not a stamp record of this batch")
    if rec.doc_sm3_before != doc.get("sm3_before") or rec.doc_sm3_after != doc.get("sm3_after"):
        out.append(f"{where}: record {seq} states other document hashes")
    if (rec.result == "OK") != (doc.get("status") == "stamped"):
        out.append(f"{where}: record {seq} says {rec.result}, the manifest {doc.get('status')}")
    return out


def find_batch_record(records: list[Any], ident: str) -> Any:
    """The `batch` record named by its batch id (32 hex) or its audit seq."""
    for rec in records:
        if rec.event != "batch":
            continue
        if rec.detail.get("batch_id") == ident or (ident.isdigit() and rec.seq == int(ident)):
            return rec
    return None


def check_batch(records: list[Any], ident: str) -> BatchCheck | None:
    """Check one batch record against the whole log; None when no batch record has that id."""
    rec = find_batch_record(records, ident)
    if rec is None:
        return None
    detail = rec.detail
    batch_id = str(detail.get("batch_id"))
    manifest = detail.get("manifest") if isinstance(detail.get("manifest"), dict) else {}
    check = BatchCheck(True, batch_id, rec.seq, manifest=manifest, record=rec.to_dict())
    if manifest.get("batch_id") != batch_id or manifest.get("type") != MANIFEST_TYPE:
        check.problems.append("the manifest names another batch or is not a batch manifest")
    if "signature" in detail:
        problem = _signature_problem(detail, rec.cert_serial)
        if problem:
            check.problems.append(problem)
    elif rec.result == "OK":
        check.problems.append("the batch record has no manifest signature")
    by_seq = {r.seq: r for r in records}
    for doc in manifest.get("documents", []):
        check.problems.extend(_link_problems(doc, batch_id, by_seq))
        seq = doc.get("audit_seq")
        if seq is not None and seq >= rec.seq:
            check.problems.append(
                f"document {doc.get('index')}: linked record {seq} is not older than the batch"
            )
    linked = {d.get("audit_seq") for d in manifest.get("documents", [])}
    for r in records:
        if r.event == "stamp" and r.detail.get("batch_id") == batch_id and r.seq not in linked:
            check.problems.append(f"stamp record {r.seq} names this batch but the manifest leaves it out")
    check.ok = not check.problems
    return check
