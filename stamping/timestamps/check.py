"""Checking an RFC 3161 TimeStampToken over a signature value: the OFD SES_Signature.timeStamp (GB/T 38540
V4: [0] BIT STRING holding a DER TimeStampToken) and the replies a stamper receives.

Checked (research/standards.md §3.4 step 6): the token parses; its message imprint hashes the signature
value; the TSA signed it (messageDigest over TSTInfo, signature over the signed attributes); the TSA
certificate carries id-kp-timeStamping and chains to the trust anchors. A good token's genTime becomes the
signing time for the certificate and seal checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, tsp, x509

from formats.certparse import signer_certificate
from formats.gm import register_asn1crypto_oids, sm3
from formats.gm.keys import verify_signature
from stamping.certnames import display_name
from stamping.report import Check, reason

_HASHES = {
    "sm3": sm3,
    "1.2.156.10197.1.401": sm3,
    "sha256": lambda b: hashlib.sha256(b).digest(),
    "sha384": lambda b: hashlib.sha384(b).digest(),
    "sha512": lambda b: hashlib.sha512(b).digest(),
    "sha1": lambda b: hashlib.sha1(b).digest(),
}


@dataclass
class TimestampResult:
    check: Check
    gen_time: datetime | None = None


def _digest(alg: str, data: bytes) -> bytes | None:
    fn = _HASHES.get(alg)
    return fn(data) if fn else None


def check_timestamp(
    token: bytes, signature_value: bytes, anchors: list[bytes], pool: list[bytes], now: datetime
) -> TimestampResult:
    register_asn1crypto_oids()
    try:
        info = cms.ContentInfo.load(token, strict=True)
        signed = info["content"]
        encap = signed["encap_content_info"]
        tst_der = encap["content"].contents
        tst = tsp.TSTInfo.load(tst_der)
        imprint = tst["message_imprint"]
        imprint_alg = imprint["hash_algorithm"]["algorithm"].native
        gen_time = tst["gen_time"].native
        signer = signed["signer_infos"][0]
        certs = [c.chosen for c in (signed["certificates"] or []) if c.name == "certificate"]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return TimestampResult(Check.failed("TS_UNREADABLE", error=type(exc).__name__))
    expected = _digest(imprint_alg, signature_value)
    if expected is None:
        return TimestampResult(Check.unknown("TS_HASH_UNSUPPORTED", algorithm=imprint_alg))
    if expected != imprint["hashed_message"].native:
        return TimestampResult(Check.failed("TS_NOT_FOR_SIGNATURE"))
    tsa = signer_certificate(signer, certs)
    if tsa is None:
        return TimestampResult(Check.unknown("TS_NO_TSA_CERT"), gen_time)
    status = _tsa_signature(signer, tst_der, tsa)
    if status is not None:
        return TimestampResult(status, gen_time)
    if not _has_eku(tsa, critical=False):
        return TimestampResult(Check.failed("TS_NO_TIMESTAMPING_EKU"), gen_time)
    # Imported here: stamping.ofd's package imports this module through its verifier.
    from stamping.ofd.certcheck import check_certificate

    chain = check_certificate(tsa.dump(), gen_time, anchors, pool + [c.dump() for c in certs], now)
    if chain.status != "ok":
        code = "TS_TSA_UNTRUSTED" if chain.status == "unknown" else "TS_TSA_INVALID"
        return TimestampResult(
            Check.of(chain.status, [reason(code, time=gen_time), *chain.reasons]), gen_time
        )
    return TimestampResult(Check.ok("TS_OK", time=gen_time, tsa=display_name(tsa.subject)), gen_time)


def _tsa_signature(signer: cms.SignerInfo, tst_der: bytes, tsa: x509.Certificate) -> Check | None:
    """None when the TSA's signature holds, else the failing Check."""
    digest_alg = signer["digest_algorithm"]["algorithm"].native
    attrs = signer["signed_attrs"]
    if attrs is None or not len(attrs):
        return Check.failed("TS_UNREADABLE")
    md = next((a["values"][0].native for a in attrs if a["type"].native == "message_digest"), None)
    if md is None or md != _digest(digest_alg, tst_der):
        return Check.failed("TS_INVALID", time=None)
    signed_bytes = b"\x31" + attrs.dump()[1:]
    ok = verify_signature(
        tsa.dump(), signer["signature_algorithm"], signed_bytes, signer["signature"].native, digest=digest_alg
    )
    return None if ok else Check.failed("TS_INVALID", time=None)


def _has_eku(tsa: x509.Certificate, critical: bool) -> bool:
    eku = tsa.extended_key_usage_value
    if eku is None or "time_stamping" not in eku.native:
        return False
    return not critical or "extended_key_usage" in tsa.critical_extensions


def tsa_signature_problem(token: bytes, require_critical_eku: bool = False) -> str | None:
    """None when `token` carries its TSA certificate, with id-kp-timeStamping (critical when asked), and the
    TSA's signature over it holds; else why not."""
    register_asn1crypto_oids()
    try:
        signed = cms.ContentInfo.load(token, strict=True)["content"]
        tst_der = signed["encap_content_info"]["content"].contents
        signer = signed["signer_infos"][0]
        certs = [c.chosen for c in (signed["certificates"] or []) if c.name == "certificate"]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return f"unreadable timestamp token: {type(exc).__name__}"
    tsa = signer_certificate(signer, certs)
    if tsa is None:
        return "the timestamp carries no TSA certificate"
    status = _tsa_signature(signer, tst_der, tsa)
    if status is not None:
        return status.detail
    if not _has_eku(tsa, critical=require_critical_eku):
        return "the TSA certificate lacks a critical id-kp-timeStamping extended key usage"
    return None
