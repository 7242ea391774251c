"""The strict DER walker: BER, truncation and garbage are DOC_MALFORMED with a reason, never a traceback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from formats.ses import detect_kind, parse_seal, parse_signature
from formats.ses.der import encode_length, parse_der, sequence_of_raw


def _malformed(data: bytes) -> str:
    with pytest.raises(SealBridgeError) as info:
        parse_der(data)
    assert info.value.code == "DOC_MALFORMED"
    return info.value.detail


@pytest.mark.parametrize(
    ("hexdata", "reason"),
    [
        ("", "empty"),
        ("3080020101 0000", "indefinite length"),
        ("30 81 03 020101", "long-form length for a short value"),
        ("30 82 0003 020101", "non-minimal length"),
        ("30 03 020101 00", "trailing data"),
        ("30 05 020101", "truncated"),
        ("30 03 02 05 01", "truncated"),
        ("24 03 040100", "constructed encoding"),  # constructed OCTET STRING (BER)
        ("23 03 030100", "constructed encoding"),  # constructed BIT STRING (BER)
        ("10 00", "primitive SEQUENCE"),
        ("30 02 0000", "end-of-contents"),
        ("30 ff", "length field of 127 bytes"),
        ("1f 80 01 00", "non-minimal tag number"),
        ("1f 05 00", "high-tag-number form used for a low tag"),
    ],
)
def test_non_der_encodings_are_rejected_with_a_reason(hexdata: str, reason: str):
    assert reason in _malformed(bytes.fromhex(hexdata.replace(" ", "")))


def test_valid_der_tree_keeps_offsets():
    inner = bytes.fromhex("020101") + bytes.fromhex("0403616263")
    data = sequence_of_raw(inner)
    node = parse_der(data)
    assert node.is_sequence and len(node.children) == 2
    assert node.children[1].raw(data) == bytes.fromhex("0403616263")
    assert node.children[1].contents(data) == b"abc"


def test_long_lengths_are_encoded_minimally():
    assert encode_length(5) == b"\x05"
    assert encode_length(200) == b"\x81\xc8"
    assert encode_length(17000) == b"\x82\x42\x68"
    big = sequence_of_raw(bytes.fromhex("0482") + (300).to_bytes(2, "big") + b"x" * 300)
    assert parse_der(big).children[0].end == len(big)


def test_deep_nesting_is_bounded():
    data = b""
    for _ in range(100):
        data = sequence_of_raw(data)
    assert "nesting" in _malformed(data)


def test_every_truncation_of_a_real_seal_is_malformed(seals_dir: Path):
    der = (seals_dir / "ofdrw-v4.esl").read_bytes()
    cuts = list(range(0, 64)) + list(range(64, len(der), 97)) + [len(der) - 1]
    for cut in cuts:
        with pytest.raises(SealBridgeError) as info:
            parse_seal(der[:cut])
        assert info.value.code == "DOC_MALFORMED", cut


def test_random_byte_damage_never_escapes_as_a_traceback(seals_dir: Path):
    """Flip bytes all over a seal: the result parses or is DOC_MALFORMED, nothing else."""
    der = bytearray((seals_dir / "ofdrw-v1.esl").read_bytes())
    rng = random.Random(20261126)
    outcomes = {"parsed": 0, "malformed": 0}
    for _ in range(300):
        damaged = bytearray(der)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(0, 800)] = rng.randrange(256)  # the structured head of the seal
        try:
            parse_seal(bytes(damaged))
            outcomes["parsed"] += 1
        except SealBridgeError as err:
            assert err.code == "DOC_MALFORMED", err
            outcomes["malformed"] += 1
    assert outcomes["malformed"] > 0


@pytest.mark.parametrize(
    "blob",
    [
        b"\x00" * 40,
        b"hello, this is not a seal",
        bytes(range(256)),
        b"\x30\x00",
        b"\x30\x03\x02\x01\x01",
        b"\x04\x03abc",
        sequence_of_raw(b"\x30\x00", b"\x30\x00"),
        sequence_of_raw(b"\x30\x00", b"\x04\x00", b"\x06\x01\x2a", b"\x03\x01\x00"),
    ],
)
def test_garbage_is_malformed_for_both_parsers(blob: bytes):
    for parser in (parse_seal, parse_signature):
        with pytest.raises(SealBridgeError) as info:
            parser(blob)
        assert info.value.code == "DOC_MALFORMED"
    assert detect_kind(blob) in (None, "seal", "signature")


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(SealBridgeError) as info:
        parse_seal(b"\x30" + b"\x00" * (17 * 1024 * 1024))
    assert info.value.code == "DOC_TOO_LARGE"
