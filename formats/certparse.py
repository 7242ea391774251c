"""Read an X.509 certificate completely before anything looks at it.

asn1crypto parses lazily: `Certificate.load()` succeeds on a certificate whose Name holds a UTF8String
where a BIT STRING belongs, and the error surfaces later, wherever a field is first touched (comparing
issuer names, printing a subject). Certificates from other producers are read here once, fully, so damage
shows up in one place as a plain reason instead of a traceback somewhere in a verifier.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import x509

from formats.errors import SealBridgeError


def read_certificate(der: bytes) -> x509.Certificate:
    """The certificate with every field parsed; CERT_INVALID with the reason otherwise."""
    try:
        cert = x509.Certificate.load(bytes(der))
        cert.native  # noqa: B018 - forces every lazily parsed field, Names included
        cert.subject.human_friendly  # noqa: B018 - what reports show
        cert.issuer.human_friendly  # noqa: B018
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError, AttributeError) as exc:
        raise SealBridgeError("CERT_INVALID", f"the certificate cannot be read: {_plain(exc)}") from None
    return cert


def try_read_certificate(der: bytes) -> tuple[x509.Certificate | None, str | None]:
    """(certificate, None) or (None, the reason it cannot be read)."""
    try:
        return read_certificate(der), None
    except SealBridgeError as err:
        return None, err.detail


def signer_certificate(signer_info: Any, certs: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate a CMS SignerInfo names by its sid (issuer and serial, or subject key identifier);
    None when none matches or the sid itself is damaged (its Name is parsed only when first compared)."""
    try:
        sid = signer_info["sid"]
        for cert in certs:
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                    return cert
            elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return cert
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return None


def _plain(exc: Exception) -> str:
    """The first line of asn1crypto's message (the rest is its parse stack)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
