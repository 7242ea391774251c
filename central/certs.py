"""What the platform needs to know about a certificate: its SHA-256 (the lookup key), subject, validity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509

from formats.errors import SealBridgeError


@dataclass(frozen=True)
class CertFacts:
    der: bytes
    sha256: str
    subject: str
    not_before: datetime
    not_after: datetime


def cert_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def cert_facts(der: bytes, what: str = "certificate") -> CertFacts:
    if not isinstance(der, bytes | bytearray) or not 100 <= len(der) <= 65536:
        raise SealBridgeError("CERT_INVALID", f"{what}: expected a DER X.509 certificate")
    der = bytes(der)
    try:
        cert = x509.Certificate.load(der, strict=True)
        validity = cert["tbs_certificate"]["validity"]
        not_before = validity["not_before"].native
        not_after = validity["not_after"].native
        subject = cert.subject.human_friendly
    except (ValueError, TypeError, KeyError) as exc:
        raise SealBridgeError("CERT_INVALID", f"{what}: not a DER X.509 certificate ({exc})") from None
    return CertFacts(der, cert_sha256(der), subject, not_before, not_after)


def parse_sha256(value: str) -> str:
    text = (value or "").strip().lower().replace(":", "")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise SealBridgeError("BAD_REQUEST", "cert must be the certificate's SHA-256 as 64 hex digits")
    return text
