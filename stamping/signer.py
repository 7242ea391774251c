"""What stamping knows of a key: a certificate, an algorithm and a sign() call.

Token drivers (agent/tokens) and test fixtures provide objects of this shape. `sign` may block
(a USB key, a PIN pad): callers in the agent run it in a worker thread.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

Algorithm = Literal["sm2", "rsa", "ecdsa"]


@runtime_checkable
class Signer(Protocol):
    #: DER X.509 certificate of the signing key.
    certificate: bytes
    #: DER certificates of the issuers, nearest first (may be empty).
    chain: list[bytes]
    #: "sm2" signs SM2-with-SM3 (Z value with ID 1234567812345678) and returns a DER SEQUENCE{r, s};
    #: "rsa" signs PKCS#1 v1.5; "ecdsa" returns a DER ECDSA signature.
    algorithm: Algorithm

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        """Sign `data` (the message, not a hash). `digest` is ignored for SM2 (always SM3 with Z)."""
        ...
