"""SM2 through tongsuopy (Tongsuo/OpenSSL in C, ~0.6 ms a signature). Default wherever its wheel exists.

tongsuopy's `sign(data, ECDSA(SM3()))` on an SM2 key computes Z with the default ID 1234567812345678
itself, so it receives the message, not a digest.
"""

from __future__ import annotations

from typing import Any

NAME = "tongsuo"

try:  # the wheel exists only for x86_64
    from tongsuopy.crypto import hashes as _hashes
    from tongsuopy.crypto.asymciphers import ec as _ec
    from tongsuopy.crypto.exceptions import InvalidSignature as _InvalidSignature

    _AVAILABLE = True
except Exception:  # ImportError, or a broken shared library
    _AVAILABLE = False


def available() -> bool:
    return _AVAILABLE


def private_handle(d: int) -> Any:
    return _ec.derive_private_key(d, _ec.SM2())


def public_handle(x: int, y: int) -> Any:
    return _ec.EllipticCurvePublicNumbers(x, y, _ec.SM2()).public_key()


def public_point(d: int) -> tuple[int, int]:
    numbers = private_handle(d).public_key().public_numbers()
    return numbers.x, numbers.y


def sign(priv: Any, point: tuple[int, int], data: bytes) -> bytes:
    """DER SEQUENCE{r, s} over SM3(Z ‖ data)."""
    return priv.sign(data, _ec.ECDSA(_hashes.SM3()))


def verify(pub: Any, data: bytes, der_sig: bytes) -> bool:
    try:
        pub.verify(der_sig, data, _ec.ECDSA(_hashes.SM3()))
    except _InvalidSignature:
        return False
    return True
