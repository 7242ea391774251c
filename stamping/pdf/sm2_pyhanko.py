"""pyHanko plumbing shared by stamping and verifying: the OID names and the SM2 validator.

- `register_oids()` teaches asn1crypto the GM OIDs (formats.gm) and our seal attribute (seal_attr), once,
  and puts in the fast path for pyHanko's hex string parser (hexstrings).
- `GmSignatureValidator` verifies SM2 signatures (CMS, certificate, CRL/OCSP and timestamp signatures all
  pass through this one hook) and hands every other algorithm to pyHanko's default validator.

The signing side (stamping/pdf/cms_signer.py) is a module of its own: pyHanko's signer, which it builds
on, is not loaded to verify.
"""

from __future__ import annotations

import logging

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

from formats.gm import SM2PublicKey, is_sm2_spki
from formats.gm import register_asn1crypto_oids as _register_gm_oids
from stamping.pdf import hexstrings, seal_attr

#: asn1crypto names registered by formats.gm for SM2-with-SM3 (.501) and SM2-1 (.301.1, GM/T 0010 CMS).
SM2_MECHANISMS = frozenset({"sm2_sm3", "sm2_1"})


def register_oids() -> None:
    """Idempotent; every entry point of stamping.pdf calls it before asn1crypto parses anything."""
    _register_gm_oids()
    seal_attr.register()
    hexstrings.install()
    # pyHanko logs expected outcomes (no path to an anchor) with tracebacks; without this, Python's
    # last-resort handler would print them to stderr of the CLI. Applications that configure logging
    # still receive them through propagation.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


class GmSignatureValidator(SignatureValidator):
    """SM2 (.501 and .301.1) through formats.gm; everything else through pyHanko's default validator."""

    def __init__(self, backend: str | None = None) -> None:
        self._backend = backend
        self._default = DefaultSignatureValidator()
        #: How many SM2 verifications ran (tests and diagnostics read it).
        self.sm2_checks = 0

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        name = signature_algorithm["algorithm"].native
        if name not in SM2_MECHANISMS:
            self._default.validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )
            return
        if context.prehashed:
            # SM2 hashes Z(ID, public key) together with the message: a bare digest cannot be checked.
            raise AlgorithmNotSupported("SM2 signatures over a precomputed digest cannot be verified")
        if not is_sm2_spki(public_key_info):
            raise InvalidSignature()
        self.sm2_checks += 1
        try:
            key = SM2PublicKey.from_spki(public_key_info)
        except (ValueError, TypeError):
            raise InvalidSignature() from None
        if not key.verify(signed_data, signature, backend=self._backend):
            raise InvalidSignature()
