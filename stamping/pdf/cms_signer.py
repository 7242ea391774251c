"""pyHanko's CMS `Signer` over a SealBridge signer, for stamping PDFs.

`PdfCmsSigner` turns a stamping.signer.Signer (software key, USB token...) into a pyHanko `Signer`: SM2
keys sign SM2-with-SM3 (OID 1.2.156.10197.1.501) over the DER of the signed attributes, with SM3 as the
digest; RSA signs PKCS#1 v1.5 and ECDSA plain ECDSA, both with SHA-256. Every signature carries the GB/T
38540 seal as a signed attribute (see seal_attr). Verifying never loads this module (nor pyHanko's signer).
"""

from __future__ import annotations

from asn1crypto import algos, x509
from pyhanko.sign.signers.pdf_cms import Signer as PyHankoSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from formats.errors import SealBridgeError
from formats.gm import is_sm2_spki
from stamping.pdf import seal_attr
from stamping.pdf.sm2_pyhanko import register_oids
from stamping.signer import Signer

# Placeholder signature sizes for pyHanko's size estimation (dry run): the largest DER the key can return.
_SM2_DER_MAX = 72
_ECDSA_DER_MAX = {256: 72, 384: 104, 521: 139}


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
