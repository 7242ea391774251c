"""Check an OFD SignedValue.dat against the exact bytes of its Signature.xml.

Three encodings exist in real files (research/standards.md §4.3):
- SES_Signature (V1/V4/V5, Type="Seal"): dataHash = SM3(Signature.xml), signature over DER(TBS_Sign);
- GB/T 35275 / PKCS#7 SignedData (Type="Sign"), with or without signed attributes;
- a bare SM2 signature over Signature.xml (ofdrw DigitalSignContainer): needs a certificate from outside.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms

from formats.certparse import signer_certificate, try_read_certificate
from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, register_asn1crypto_oids, sm3
from formats.ses import Seal, detect_kind, parse_signature, verify_cert_signature, verify_signature_value
from stamping.report import Check


@dataclass
class SignedValueResult:
    kind: str  # "ses" | "pkcs7" | "raw_sm2"
    signature: Check
    seal: Seal | None = None
    ses_version: int | None = None
    signer_cert: bytes | None = None
    signed_at: datetime | None = None
    property_info: str | None = None
    embedded_certs: list[bytes] = field(default_factory=list)
    timestamp: bytes | None = None
    signature_value: bytes = b""  # the SES signature BIT STRING contents (what a timestamp covers)
    notes: list[str] = field(default_factory=list)


def check_signed_value(value: bytes, tbs_xml: bytes, extra_certs: list[bytes]) -> SignedValueResult:
    kind = detect_kind(value)
    if kind == "pkcs7":
        return _pkcs7(value, tbs_xml)
    if kind == "raw_sm2":
        return _raw(value, tbs_xml, extra_certs)
    sig = parse_signature(value)  # raises DOC_MALFORMED with the precise reason for anything else
    digest = sm3(tbs_xml)
    result = SignedValueResult(
        "ses",
        Check.unknown("NOT_CHECKED"),
        seal=sig.seal,
        ses_version=sig.version,
        signer_cert=sig.signer_cert or None,
        signed_at=sig.time,
        property_info=sig.property_info,
        timestamp=sig.timestamp,
        signature_value=sig.signature,
        notes=list(sig.warnings),
    )
    if sig.data_hash != digest:
        result.signature = Check.failed("SES_DATAHASH_MISMATCH")
        return result
    status, _ = verify_signature_value(sig)
    result.signature = _crypto_check(status, "SES_SIGNATURE_OK", version=sig.version)
    return result


def _crypto_check(status: str, ok_code: str, **params: object) -> Check:
    if status == "ok":
        return Check.ok(ok_code, **params)
    if status == "failed":
        return Check.failed("SIGNATURE_CRYPTO_FAILED")
    return Check.unknown("SIGNATURE_UNVERIFIABLE")


def _raw(value: bytes, tbs_xml: bytes, extra_certs: list[bytes]) -> SignedValueResult:
    if not extra_certs:
        return SignedValueResult("raw_sm2", Check.unknown("RAW_SM2_NO_CERT"))
    for cert in extra_certs:
        status, _ = verify_cert_signature(cert, OID_SM2_SM3, tbs_xml, value)
        if status == "ok":
            return SignedValueResult(
                "raw_sm2",
                Check.ok("RAW_SM2_OK"),
                signer_cert=cert,
            )
    return SignedValueResult("raw_sm2", Check.failed("RAW_SM2_NO_MATCH"))


def _find_cert(signer_info: Any, certs: list[Any]) -> Any | None:
    """The signer's certificate among fully read ones; the only one when the sid names none (producers that
    omit or garble the sid for a single certificate), None when the sid itself is damaged."""
    cert = signer_certificate(signer_info, certs)
    if cert is not None or len(certs) != 1:
        return cert
    try:
        signer_info["sid"].native  # noqa: B018 - a damaged sid gets no fallback
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return certs[0]


def _readable_certs(content: Any) -> tuple[list[Any], list[str]]:
    """The embedded certificates that read completely, and why each other one does not."""
    certs, problems = [], []
    for choice in content["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert, why = try_read_certificate(choice.chosen.dump())
        if cert is None:
            problems.append(why or "unreadable certificate")
        else:
            certs.append(cert)
    return certs, problems


def _attr(signed_attrs: Any, name: str) -> Any | None:
    for attr in signed_attrs:
        if attr["type"].native == name or attr["type"].dotted == name:
            return attr["values"][0]
    return None


def _pkcs7(value: bytes, tbs_xml: bytes) -> SignedValueResult:
    register_asn1crypto_oids()
    try:
        info = cms.ContentInfo.load(value, strict=True)
        content = info["content"]
        signer_infos = content["signer_infos"]
        certs, cert_problems = _readable_certs(content)
        signer_info = signer_infos[0]
        encap = content["encap_content_info"]["content"]
        e_content = encap.native if encap is not None and encap.contents is not None else None
        if isinstance(e_content, str):
            e_content = e_content.encode("latin-1")
        signed_attrs = signer_info["signed_attrs"]
        sig_alg = signer_info["signature_algorithm"]["algorithm"].dotted
        signature = signer_info["signature"].native
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise SealBridgeError(
            "DOC_MALFORMED", f"unreadable PKCS#7 SignedValue: {type(exc).__name__}"
        ) from None
    cert = _find_cert(signer_info, certs)
    result = SignedValueResult(
        "pkcs7", Check.unknown("NOT_CHECKED"), embedded_certs=[c.dump() for c in certs]
    )
    if cert is None and cert_problems:
        # The signer's certificate is there but cannot be read (asn1crypto fails on it lazily).
        result.signature = Check.unknown("SIGNATURE_UNREADABLE", error=cert_problems[0])
        result.notes.extend(cert_problems)
        return result
    result.signer_cert = cert.dump() if cert is not None else None
    digest = sm3(tbs_xml)
    if signed_attrs is not None and len(signed_attrs):
        md = _attr(signed_attrs, "message_digest")
        if md is None or bytes(md.native) != digest:
            result.signature = Check.failed("PKCS7_DIGEST_MISMATCH")
            return result
        when = _attr(signed_attrs, "signing_time")
        if when is not None:
            result.signed_at = when.native
        # The signature covers the DER SET OF the attributes as read ([0] IMPLICIT tag swapped for SET).
        signed_bytes = b"\x31" + signed_attrs.dump()[1:]
    else:
        if e_content is None:
            result.signature = Check.failed("PKCS7_NO_CONTENT")
            return result
        if e_content != digest and e_content != base64.b64encode(digest):
            result.signature = Check.failed("PKCS7_DIGEST_MISMATCH")
            return result
        signed_bytes = e_content
    if cert is None:
        result.signature = Check.unknown("PKCS7_NO_SIGNER_CERT")
        return result
    status, _ = verify_cert_signature(result.signer_cert or b"", sig_alg, signed_bytes, signature)
    result.signature = _crypto_check(status, "PKCS7_SIGNATURE_OK")
    if result.signed_at is not None and result.signed_at.tzinfo is None:
        result.signed_at = result.signed_at.replace(tzinfo=UTC)
    return result
