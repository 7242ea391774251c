"""The optional SES_Signature.timeStamp (GB/T 38540 V4: [0] BIT STRING holding a DER TimeStampToken).

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

from formats.gm import register_asn1crypto_oids, sm3
from formats.gm.keys import verify_signature
from stamping.certnames import display_name
from stamping.ofd.certcheck import check_certificate
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
    tsa = _tsa_cert(signer, certs)
    if tsa is None:
        return TimestampResult(Check.unknown("TS_NO_TSA_CERT"), gen_time)
    status = _tsa_signature(signer, tst_der, tsa)
    if status is not None:
        return TimestampResult(status, gen_time)
    eku = tsa.extended_key_usage_value
    if eku is None or "time_stamping" not in eku.native:
        return TimestampResult(Check.failed("TS_NO_TIMESTAMPING_EKU"), gen_time)
    chain = check_certificate(tsa.dump(), gen_time, anchors, pool + [c.dump() for c in certs], now)
    if chain.status != "ok":
        code = "TS_TSA_UNTRUSTED" if chain.status == "unknown" else "TS_TSA_INVALID"
        return TimestampResult(
            Check.of(chain.status, [reason(code, time=gen_time), *chain.reasons]), gen_time
        )
    return TimestampResult(Check.ok("TS_OK", time=gen_time, tsa=display_name(tsa.subject)), gen_time)


def _tsa_cert(signer: cms.SignerInfo, certs: list[x509.Certificate]) -> x509.Certificate | None:
    sid = signer["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


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
