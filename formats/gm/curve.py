"""SM2 curve constants (GM/T 0003.5) and the Z value of GM/T 0009."""

from __future__ import annotations

from .oids import DEFAULT_ID
from .sm3 import sm3

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def z_digest_input(x: int, y: int, uid: bytes = DEFAULT_ID) -> bytes:
    """ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA (ENTL = ID length in bits, 2 bytes big-endian)."""
    parts = [(len(uid) * 8).to_bytes(2, "big"), uid]
    parts += [v.to_bytes(32, "big") for v in (A, B, GX, GY, x, y)]
    return b"".join(parts)


def z_value(x: int, y: int, uid: bytes = DEFAULT_ID) -> bytes:
    """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)."""
    return sm3(z_digest_input(x, y, uid))


def sm2_digest(x: int, y: int, data: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z ‖ M): what an SM2 signature over M actually signs (SKF devices take this)."""
    return sm3(z_value(x, y, uid) + data)
