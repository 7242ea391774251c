"""Evidence reports issued by the platform's verification service (Art. 28): the same evidence PDF the agent
makes, signed by the verification-service key (PAdES, SM2/SM3) with a signature time-stamp from the platform's
own TSA, so a court or a counterparty can check who issued it and when, without trusting whoever hands it on.
"""

from __future__ import annotations

import json

from asn1crypto import algos, tsp

from central import tsa
from central.service import Central
from central.timeutil import iso, utcnow
from central.tsa_keys import VERIFY_CN
from central.verify_service import verify_report
from formats.errors import SealBridgeError
from formats.keysigner import KeySigner
from stamping.evidence.build import EvidenceInput, build_evidence
from stamping.pdf.docsign import sign_invisible

FIELD = "SealBridge_Platform_Evidence"


class PlatformTimeStamper:
    """The platform stamps its own evidence directly (no HTTP to itself); every token is audited as usual."""

    def __init__(self, central: Central) -> None:
        self._central = central

    def timestamp(self, digest: bytes, hash_name: str) -> bytes:
        alg = tsa.OID_SM3 if hash_name == "sm3" else hash_name
        imprint = tsp.MessageImprint(
            {"hash_algorithm": algos.DigestAlgorithm({"algorithm": alg}), "hashed_message": digest}
        )
        req = tsa.TsaRequest(hash_name, digest, None, True, imprint)
        serial, gen_time = self._central.db.run_sync(tsa.record_token, req, "verification-service")
        key = self._central.identity.tsa[tsa.family_for(req)]
        return tsa.build_token(req, serial, gen_time, key).dump()


def issue_evidence(central: Central, data: bytes, name: str) -> bytes:
    """Verify `data` and return the evidence PDF, signed and time-stamped by the platform (runs in a worker)."""
    verifier = central.identity.verifier
    if verifier is None:
        raise SealBridgeError("INTERNAL", "the verification service has no key")
    validated_at = utcnow()
    anchors = [*central.settings.trust_anchors, *central.tsa_roots()]
    report = verify_report(central.db, data, anchors)
    pdf = build_evidence(
        EvidenceInput(
            document_name=name,
            data=data,
            report=report,
            report_json=json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode("utf-8"),
            validated_at=validated_at,
            trust_anchors=anchors,
            platform_url="本平台 / this platform",
            platform_answered_at=iso(validated_at),
            sealed_by=VERIFY_CN,
        )
    )
    signer = KeySigner(verifier.key, verifier.cert_der, [verifier.root_der])
    return sign_invisible(
        pdf, signer, FIELD, PlatformTimeStamper(central), reason="电子印章验证报告 / seal verification report"
    )
