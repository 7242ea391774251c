"""统一社会信用代码 checks live in formats.uscc (the verifier reads USCCs from certificates too)."""

from formats.uscc import ALPHABET, WEIGHTS, check_character, validate_uscc

__all__ = ["ALPHABET", "WEIGHTS", "check_character", "validate_uscc"]
