"""Trust anchors and extra certificates parsed once per process, not once per document.

A batch (`sealbridge verify DIR`) or the agent verifies many documents with the same anchors; parsing each
anchor fully and building pyHanko's trust manager cost more per document than a one-page signature itself.
Keyed by the certificates' DER, so a changed anchor list is simply another entry.
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import x509
from pyhanko_certvalidator.registry import SimpleTrustManager

from formats.errors import SealBridgeError


@lru_cache(maxsize=32)
def parsed_certificates(ders: tuple[bytes, ...]) -> tuple[x509.Certificate, ...]:
    """Every certificate fully parsed (CERT_INVALID, not cached, for one that is not a DER certificate).
    The objects are shared: callers only read them."""
    out = []
    for der in ders:
        try:
            cert = x509.Certificate.load(der)
            cert.native  # noqa: B018 - parse fully so a damaged anchor is refused here
        except Exception:
            raise SealBridgeError(
                "CERT_INVALID", "a trust anchor or extra certificate is not a DER certificate"
            ) from None
        out.append(cert)
    return tuple(out)


def trust_manager(anchors: list[x509.Certificate]) -> SimpleTrustManager:
    """pyHanko's trust manager for these anchors (read-only once built, so one serves every document)."""
    return _trust_manager(tuple(c.dump() for c in anchors))


@lru_cache(maxsize=32)
def _trust_manager(ders: tuple[bytes, ...]) -> SimpleTrustManager:
    return SimpleTrustManager.build(trust_roots=list(parsed_certificates(ders)))
