"""pyHanko plumbing for SealBridge signers: the CMS Signer adapter, the SM2 validator and the OID names.

- `register_oids()` teaches asn1crypto the GM OIDs (formats.gm) and our seal attribute (seal_attr), once,
  and puts in the fast path for pyHanko's hex string parser (hexstrings).
- `PdfCmsSigner` turns a stamping.signer.Signer (software key, USB token...) into a pyHanko `Signer`:
  SM2 keys sign SM2-with-SM3 (OID 1.2.156.10197.1.501) over the DER of the signed attributes, with SM3 as
  the digest; RSA signs PKCS#1 v1.5 and ECDSA plain ECDSA, both with SHA-256. Every signature carries the
  GB/T 38540 seal as a signed attribute (see seal_attr).
- `GmSignatureValidator` verifies SM2 signatures (CMS, certificate, CRL/OCSP and timestamp signatures all
  pass through this one hook) and hands every other algorithm to pyHanko's default validator.
"""

from __future__ import annotations

import logging

from asn1crypto import algos, keys, x509
from cryptography.exceptions import InvalidSignature
from pyhanko.sign.signers.pdf_cms import Signer as PyHankoSigner
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

from formats.errors import SealBridgeError
from formats.gm import SM2PublicKey, is_sm2_spki
from formats.gm import register_asn1crypto_oids as _register_gm_oids
from stamping.pdf import hexstrings, seal_attr
from stamping.signer import Signer

#: asn1crypto names registered by formats.gm for SM2-with-SM3 (.501) and SM2-1 (.301.1, GM/T 0010 CMS).
SM2_MECHANISMS = frozenset({"sm2_sm3", "sm2_1"})

# Placeholder signature sizes for pyHanko's size estimation (dry run): the largest DER the key can return.
_SM2_DER_MAX = 72
_ECDSA_DER_MAX = {256: 72, 384: 104, 521: 139}


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


def digest_for(signer: Signer) -> str:
    return "sm3" if signer.algorithm == "sm2" else "sha256"


def _mechanism(signer: Signer, cert: x509.Certificate) -> algos.SignedDigestAlgorithm:
    if signer.algorithm == "sm2":
        # Explicit: pyHanko would otherwise derive 'sm3_ecdsa' from the EC key, which does not exist.
        return algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"})
    if signer.algorithm == "rsa":
        return algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    if signer.algorithm == "ecdsa":
        return algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    raise SealBridgeError("MECHANISM_UNSUPPORTED", f"signer algorithm {signer.algorithm!r}")


def _check_key_matches(signer: Signer, cert: x509.Certificate) -> None:
    spki = cert.public_key
    sm2 = is_sm2_spki(spki)
    expected = {"rsa": spki.algorithm == "rsa", "ecdsa": spki.algorithm == "ec" and not sm2, "sm2": sm2}
    if not expected.get(signer.algorithm, False):
        raise SealBridgeError(
            "CERT_INVALID",
            f"the signer says {signer.algorithm!r} but its certificate holds a {spki.algorithm} key",
        )


class PdfCmsSigner(PyHankoSigner):
    """A pyHanko Signer over our Signer protocol, adding the seal as a signed attribute."""

    def __init__(self, signer: Signer, seal_der: bytes | None) -> None:
        register_oids()
        try:
            cert = x509.Certificate.load(bytes(signer.certificate))
            chain = [x509.Certificate.load(bytes(c)) for c in signer.chain]
            cert.public_key.algorithm  # noqa: B018 - force the lazy parse so damage shows up here
        except Exception as exc:  # asn1crypto raises many types on damaged DER
            raise SealBridgeError(
                "CERT_INVALID", f"unreadable signer certificate: {type(exc).__name__}"
            ) from None
        _check_key_matches(signer, cert)
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs([cert, *chain]),
            signature_mechanism=_mechanism(signer, cert),
            # Keep self-signed roots out of the CMS: the verifier brings its own anchors.
            embed_roots=False,
        )
        self._signer = signer
        self._seal_der = None if seal_der is None else bytes(seal_der)  # None: a plain signature, no seal
        self._cert = cert

    def _signed_attr_providers(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # pyHanko's standard attributes (contentType, messageDigest, signingCertificateV2, ...) plus the seal.
        yield from super()._signed_attr_providers(*args, **kwargs)
        if self._seal_der is not None:
            yield seal_attr.SealAttributeProvider(self._seal_der)

    def _placeholder(self) -> bytes:
        algorithm = self._signer.algorithm
        if algorithm == "sm2":
            return bytes(_SM2_DER_MAX)
        if algorithm == "rsa":
            return bytes((self._cert.public_key.bit_size + 7) // 8)
        return bytes(_ECDSA_DER_MAX.get(self._cert.public_key.bit_size, 139))

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return self._placeholder()
        # `data` is the DER of the signed attributes (not a hash): an SM2 token applies Z itself.
        signature = self._signer.sign(data, digest_algorithm)
        if not isinstance(signature, bytes | bytearray) or not signature:
            raise SealBridgeError("TOKEN_ERROR", "the signer returned no signature")
        return bytes(signature)


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
