"""Verify seals and seal signatures over the bytes that were actually signed.

- The maker's signature: V4/V5 over the original DER(SES_SealInfo), V1 over SEQUENCE{SealInfo, cert, alg}
  built from the original element bytes (formats.ses.parse keeps both).
- The document signature: over the original bytes of TBS_Sign, with the signer certificate
  (V4: SES_Signature.cert; V1: TBS_Sign.cert).
Statuses are "ok", "failed" (the cryptography says no) or "unknown" (cannot check: no certificate, an
unreadable certificate, an algorithm we do not know), each with a one-line reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from asn1crypto import x509

from formats.errors import SealBridgeError
from formats.gm import SM2_SIGNATURE_OIDS, SM2PublicKey, is_sm2_spki, sm3
from formats.ses.model import Seal, SesSignature

Status = Literal["ok", "failed", "unknown"]

# certListType 2: digest algorithms by the normalised `type` text of CertDigestObj.
_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "sm3": sm3,
    "sha256": lambda b: hashlib.sha256(b).digest(),
    "sha1": lambda b: hashlib.sha1(b).digest(),
    "sha384": lambda b: hashlib.sha384(b).digest(),
    "sha512": lambda b: hashlib.sha512(b).digest(),
}
_DIGEST_OIDS = {
    "1.2.156.10197.1.401": "sm3",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


def verify_cert_signature(
    cert_der: bytes, sig_alg_oid: str, data: bytes, signature: bytes, backend: str | None = None
) -> tuple[Status, str]:
    """Check `signature` over `data` with the key of `cert_der`. `backend` forces an SM2 backend."""
    try:
        key = (bytes(cert_der or b""), str(sig_alg_oid), bytes(data), bytes(signature), backend)
    except TypeError:  # not bytes: checked (and refused) without remembering
        return _check_cert_signature(cert_der, sig_alg_oid, data, signature, backend)
    return _remembered(*key)


def _check_cert_signature(
    cert_der: bytes, sig_alg_oid: str, data: bytes, signature: bytes, backend: str | None
) -> tuple[Status, str]:
    if not cert_der:
        return "unknown", "no certificate to verify with"
    try:
        cert = x509.Certificate.load(cert_der)
        spki = cert["tbs_certificate"]["subject_public_key_info"]
        sm2_key = is_sm2_spki(spki)
    except Exception as exc:  # asn1crypto raises many types on damaged certificates
        return "unknown", f"unreadable certificate: {type(exc).__name__}"
    if sm2_key:
        if sig_alg_oid not in SM2_SIGNATURE_OIDS:
            return "unknown", f"SM2 key with unsupported signature algorithm {sig_alg_oid}"
        try:
            key = SM2PublicKey.from_spki(spki)
        except (ValueError, TypeError) as exc:
            return "unknown", f"unusable SM2 public key: {exc}"
        ok = key.verify(data, signature, backend=backend)
    else:
        try:
            from formats.gm.keys import verify_signature
        except ImportError:
            return "unknown", "non-SM2 verification is not available"
        try:
            ok = verify_signature(cert_der, sig_alg_oid, data, signature)
        except SealBridgeError as err:
            return "unknown", err.detail or err.code
        except (ValueError, TypeError) as exc:
            return "unknown", f"cannot verify: {exc}"
    return ("ok", "signature verifies") if ok else ("failed", "signature does not verify")


# Remembered per process, keyed by the exact bytes: a batch (or the agent) meets the same seal, its maker's
# signature and the same certificate chain on document after document.
_remembered = lru_cache(maxsize=256)(_check_cert_signature)


def verify_maker(seal: Seal, backend: str | None = None) -> tuple[Status, str]:
    """The seal maker's signature over SES_SealInfo (V4/V5) or SEQ{SealInfo, cert, alg} (V1)."""
    what = "DER(SES_SealInfo)" if seal.version != 1 else "SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}"
    status, detail = verify_cert_signature(
        seal.maker_cert, seal.sign_alg_oid, seal.maker_signed_bytes, seal.maker_signature, backend
    )
    if status == "unknown" and not seal.maker_cert:
        detail = "the seal carries no maker certificate"
    return status, f"maker {detail} over {what}"


def verify_signature_value(sig: SesSignature, backend: str | None = None) -> tuple[Status, str]:
    """The signer's signature over the original bytes of TBS_Sign."""
    status, detail = verify_cert_signature(
        sig.signer_cert, sig.sign_alg_oid, sig.tbs_der, sig.signature, backend
    )
    return status, f"signer {detail} over DER(TBS_Sign)"


def _digest_names(type_text: str) -> list[str]:
    """Which digests a CertDigestObj.type means; every known one if the text is unclear."""
    norm = re.sub(r"[^a-z0-9.]", "", type_text.lower())
    if norm in _DIGEST_OIDS:
        return [_DIGEST_OIDS[norm]]
    for name in _DIGESTS:
        if name in norm:
            return [name]
    return list(_DIGESTS)


def signer_in_seal(seal: Seal, cert_der: bytes) -> bool:
    """Is the signer certificate bound to the seal? Byte comparison (type 1) or digest (type 2)."""
    if not cert_der:
        return False
    cert_der = bytes(cert_der)
    if seal.cert_list_type == 1:
        return any(c == cert_der for c in seal.certs)
    for digest in seal.cert_digests:
        for name in _digest_names(digest.algorithm):
            if _DIGESTS[name](cert_der) == digest.value:
                return True
    return False


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def check_seal_usable(seal: Seal, signer_cert_der: bytes, at: datetime) -> None:
    """Refuse to stamp with a seal that is not genuine, not valid at `at`, or not bound to the signer."""
    status, detail = verify_maker(seal)
    if status != "ok":
        raise SealBridgeError("SEAL_INVALID", detail, {"esID": seal.esid})
    at = _aware(at)
    if at < seal.valid_start:
        raise SealBridgeError(
            "SEAL_NOT_YET_VALID",
            f"seal {seal.esid} is valid from {seal.valid_start.isoformat()}",
            {"esID": seal.esid},
        )
    if at > seal.valid_end:
        raise SealBridgeError(
            "SEAL_EXPIRED", f"seal {seal.esid} expired at {seal.valid_end.isoformat()}", {"esID": seal.esid}
        )
    if not signer_in_seal(seal, signer_cert_der):
        kind = "certificates" if seal.cert_list_type == 1 else "certificate digests"
        raise SealBridgeError(
            "SEAL_NOT_FOR_SIGNER",
            f"the signer certificate is not among the seal's {len(seal.certs) or len(seal.cert_digests)} {kind}",
            {"esID": seal.esid},
        )
