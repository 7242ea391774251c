"""SM2 through gmssl 3.x (pure Python, ~16 ms a signature): the fallback where tongsuopy has no wheel.

Only gmssl's elliptic-curve arithmetic is used. The digest e = SM3(Z ‖ M) is computed with `cryptography`
(formats.gm.sm3) — gmssl's own SM3 runs at 0.13 MB/s — and the nonce comes from `secrets`, never from
gmssl's `random.choice`. The public key is set on the object directly, because CryptSM2.__init__ runs
`public_key.lstrip("04")`, which strips characters rather than a prefix and corrupts keys whose X
starts with hex 0 or 4.
"""

from __future__ import annotations

import secrets
from typing import Any

from .curve import N, sm2_digest
from .sigcodec import decode_der, encode_der

NAME = "gmssl"

try:
    from gmssl.sm2 import CryptSM2 as _CryptSM2

    _AVAILABLE = True
except Exception:
    _AVAILABLE = False


def available() -> bool:
    return _AVAILABLE


def _crypt(d: int | None, point: tuple[int, int] | None) -> Any:
    obj = _CryptSM2(private_key=f"{d:064x}" if d is not None else "", public_key="")
    if point is not None:
        obj.public_key = f"{point[0]:064x}{point[1]:064x}"  # set after __init__: see the module docstring
    return obj


def private_handle(d: int) -> Any:
    return d


def public_handle(x: int, y: int) -> Any:
    return _crypt(None, (x, y))


def public_point(d: int) -> tuple[int, int]:
    obj = _crypt(d, None)
    xy = obj._kg(d, obj.ecc_table["g"])
    return int(xy[:64], 16), int(xy[64:128], 16)


def sign(priv: Any, point: tuple[int, int], data: bytes) -> bytes:
    """DER SEQUENCE{r, s} over e = SM3(Z ‖ data)."""
    obj = _crypt(priv, point)
    e = sm2_digest(*point, data)
    while True:
        k = secrets.randbelow(N - 1) + 1  # CSPRNG nonce in [1, n-1]
        raw = obj.sign(e, f"{k:064x}")
        if raw is not None:  # gmssl returns None for the (negligible) r == 0 / s == 0 cases: retry
            return encode_der(int(raw[:64], 16), int(raw[64:], 16))


def verify(pub: Any, data: bytes, der_sig: bytes) -> bool:
    r, s = decode_der(der_sig)
    # gmssl does not range-check r and s itself (GM/T 0003.2 §7.1 B1/B2).
    if not (1 <= r < N and 1 <= s < N):
        return False
    point = (int(pub.public_key[:64], 16), int(pub.public_key[64:], 16))
    e = sm2_digest(*point, data)
    return bool(pub.verify(f"{r:064x}{s:064x}", e))
