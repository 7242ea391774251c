"""The signer certificate: a chain to the configured trust anchors and validity at the signing time.

Deliberately small: issuer lookup by name with a signature check, up to a trusted root. No revocation
(there is no CRL/OCSP access from stamping/); the platform status check covers the seal's own status.
Expired or unknown-issuer certificates give `unknown` with the reason, never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import x509

from formats.certparse import try_read_certificate
from formats.ses import verify_cert_signature
from stamping import certnames
from stamping.report import Check, SignerInfo, reason

_MAX_DEPTH = 8


@lru_cache(maxsize=256)
def _load(der: bytes) -> x509.Certificate | None:
    """Parsed once per distinct certificate: ten seals of one signer carry the same chain. The parsed
    objects are only read, never changed, so sharing them is safe."""
    return try_read_certificate(bytes(der))[0]


def signer_info(cert_der: bytes | None) -> SignerInfo | None:
    return certnames.signer_info(_load(bytes(cert_der)) if cert_der else None)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    return _signed_by(cert.dump(), issuer.dump())


@lru_cache(maxsize=256)
def _signed_by(cert_der: bytes, issuer_der: bytes) -> bool:
    """Whether `issuer`'s key made `cert`'s signature: the same bytes always give the same answer."""
    cert = _load(cert_der)
    if cert is None:
        return False
    status, _ = verify_cert_signature(
        issuer_der, cert["signature_algorithm"]["algorithm"].dotted, cert["tbs_certificate"].dump(),
        cert["signature_value"].native,
    )  # fmt: skip
    return status == "ok"


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    validity = cert["tbs_certificate"]["validity"]
    return validity["not_before"].native <= at <= validity["not_after"].native


def check_certificate(
    cert_der: bytes | None, signed_at: datetime | None, anchors: list[bytes], pool: list[bytes], now: datetime
) -> Check:
    cert = _load(bytes(cert_der)) if cert_der else None
    if cert is None:
        return Check.unknown("NO_SIGNER_CERT")
    at = signed_at or now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    failed, notes = certnames.validity_at_signing(cert, at, now)
    if failed is not None:
        return failed
    if not anchors:
        return Check.of("unknown", [reason("NO_TRUST_ANCHORS"), *notes])
    anchor_certs = [c for c in (_load(bytes(a)) for a in anchors) if c is not None]
    candidates = [c for c in (_load(bytes(p)) for p in pool) if c is not None] + anchor_certs
    chain = [cert]
    current = cert
    for _ in range(_MAX_DEPTH):
        if any(current.dump() == a.dump() for a in anchor_certs):
            break
        anchor = next((a for a in anchor_certs if _issued_by(current, a)), None)
        if anchor is not None:
            chain.append(anchor)
            break
        issuer = next((c for c in candidates if c.dump() != current.dump() and _issued_by(current, c)), None)
        if issuer is None:
            first = reason("CERT_UNKNOWN_ISSUER", issuer=certnames.display_name(current.issuer))
            return Check.of("unknown", [first, *notes])
        if not _valid_at(issuer, at):
            return Check.failed(
                "CERT_ISSUER_INVALID_AT_SIGNING", issuer=certnames.display_name(issuer.subject)
            )
        chain.append(issuer)
        current = issuer
    else:
        return Check.unknown("CERT_CHAIN_TOO_LONG")
    names = [certnames.display_name(c.subject) for c in chain]
    return Check.of("ok", [reason("CERT_CHAIN_OK", chain=names), *notes])
