"""统一社会信用代码 (Unified Social Credit Code) validation per GB 32100-2015.

18 characters from a 31-character alphabet (digits and capitals without I, O, Z, S, V); the last one is a
check character computed from the first 17 with weights 3^i mod 31. One home for the rule: the platform
validates companies with it, the verifier reads USCCs from certificates, the dev PKI makes its demo code.
"""

from __future__ import annotations

from formats.errors import SealBridgeError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def with_check_character(first17: str) -> str:
    """The full 18-character code for its first 17 characters."""
    return first17 + check_character(first17)


def validate_uscc(value: str) -> str:
    """Return the normalized (upper-case) code, or raise BAD_REQUEST naming what is wrong."""
    if not isinstance(value, str):
        raise SealBridgeError("BAD_REQUEST", "USCC must be a string")
    code = value.strip().upper()
    if len(code) != 18:
        raise SealBridgeError("BAD_REQUEST", f"USCC must have 18 characters, got {len(code)}")
    bad = [c for c in code if c not in ALPHABET]
    if bad:
        raise SealBridgeError("BAD_REQUEST", f"USCC contains characters outside GB 32100: {''.join(bad)!r}")
    if check_character(code[:17]) != code[17]:
        raise SealBridgeError("BAD_REQUEST", "USCC check character is wrong (GB 32100)")
    return code


def is_uscc(value: str) -> bool:
    """True for an 18-character code with a correct GB 32100 check character."""
    code = value.strip().upper() if isinstance(value, str) else ""
    return len(code) == 18 and all(c in ALPHABET for c in code) and check_character(code[:17]) == code[17]
