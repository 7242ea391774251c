"""SM2/ECDSA signature encodings: DER SEQUENCE{r, s} and raw r‖s.

Producers differ (tongz writes raw 64-byte r‖s, SKF returns 64-byte right-aligned fields), so verification
accepts both and signing always emits DER.
"""

from __future__ import annotations

from asn1crypto import algos

SM2_FIELD_LEN = 32


def raw_to_der(raw: bytes) -> bytes:
    """r‖s (equal halves) → DER SEQUENCE{r, s}."""
    if not raw or len(raw) % 2:
        raise ValueError("raw signature must be two equal-length halves")
    half = len(raw) // 2
    r = int.from_bytes(raw[:half], "big")
    s = int.from_bytes(raw[half:], "big")
    return encode_der(r, s)


def encode_der(r: int, s: int) -> bytes:
    return algos.DSASignature({"r": r, "s": s}).dump()


def decode_der(sig: bytes) -> tuple[int, int]:
    """Strict DER SEQUENCE{r INTEGER, s INTEGER} → (r, s); ValueError otherwise."""
    try:
        parsed = algos.DSASignature.load(sig, strict=True)
        r = parsed["r"].native
        s = parsed["s"].native
        # Re-encoding must give the same bytes: refuses BER, padding and other malleable forms.
        if parsed.dump(force=True) != sig:
            raise ValueError("signature is not DER")
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto raises a variety of types on garbage
        raise ValueError(f"malformed DER signature: {exc}") from exc
    if not isinstance(r, int) or not isinstance(s, int):
        raise ValueError("malformed DER signature")
    return r, s


def der_to_raw(sig: bytes, field_len: int = SM2_FIELD_LEN) -> bytes:
    """DER SEQUENCE{r, s} → r‖s with each value left-padded to `field_len` bytes."""
    r, s = decode_der(sig)
    if r < 0 or s < 0 or r.bit_length() > field_len * 8 or s.bit_length() > field_len * 8:
        raise ValueError("signature value out of range")
    return r.to_bytes(field_len, "big") + s.to_bytes(field_len, "big")


def parse_rs(sig: bytes, field_len: int = SM2_FIELD_LEN) -> tuple[int, int]:
    """Either form → (r, s). Raw is recognised by its exact length (2 × field_len; SKF's 2 × 64 too)."""
    if len(sig) == 2 * field_len:
        # A DER SEQUENCE of two 32-byte-ish integers is 68–72 bytes, so 64 bytes is never ambiguous.
        return int.from_bytes(sig[:field_len], "big"), int.from_bytes(sig[field_len:], "big")
    if len(sig) == 4 * field_len:
        # SKF ECCSIGNATUREBLOB: r[64] ‖ s[64], right-aligned; the top halves must be zero.
        r_field, s_field = sig[: 2 * field_len], sig[2 * field_len :]
        if any(r_field[:field_len]) or any(s_field[:field_len]):
            raise ValueError("SKF signature blob with non-zero padding")
        return int.from_bytes(r_field, "big"), int.from_bytes(s_field, "big")
    return decode_der(sig)


def to_der(sig: bytes, field_len: int = SM2_FIELD_LEN) -> bytes:
    """Normalise DER or raw r‖s (or an SKF 128-byte blob) to DER."""
    r, s = parse_rs(sig, field_len)
    return encode_der(r, s)
