"""stamping.pdf.hexstrings: the fast path gives pyHanko's own result, stream position and error for every
hex string, whether it takes the string or hands it back to pyHanko's parser."""

from __future__ import annotations

import io
import random

import pytest

from stamping.pdf import hexstrings

CASES = [
    b"<>",
    b"<00>",
    b"<0a1B2c>",
    b"<abc>",  # odd count: a trailing 0 is implied
    b"<4E6F762073686D6F7A>",
    b"<4E 6F\n76\r\t20 73>",  # whitespace is allowed inside
    b"<4E6F%a comment\n7620>",  # and comments
    b"<4E6G>",  # not a hex digit
    b"<4E6F",  # no closing >
    b"<>>",
    b"<00>trailing bytes 1 0 obj",
    b"< 00>",
    b"<" + b"ab" * 40_000 + b"> endobj",  # longer than the read-ahead
    b"<" + b"ab" * 40_000 + b" cd>",  # whitespace past the first read-ahead
    b"<" + b"ab" * 40_000,  # unterminated, long
]


def _parse(parser, data: bytes):  # type: ignore[no-untyped-def]
    stream = io.BytesIO(b"xx" + data)
    stream.seek(2)
    try:
        result = parser(stream)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return ("error", type(exc), str(exc)[:200])
    return ("ok", type(result), bytes(result.original_bytes), stream.tell())


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_outcome_as_pyhanko(data: bytes) -> None:
    assert _parse(hexstrings.read_hex_string, data) == _parse(hexstrings._original, data)


def test_random_strings_match_pyhanko() -> None:
    rng = random.Random(5)
    alphabet = b"0123456789abcdefABCDEF" * 6 + b" \n\r\t%>xg<"
    for _ in range(400):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        data = b"<" + body + (b">" if rng.random() < 0.8 else b"") + b" 1 0 R"
        assert _parse(hexstrings.read_hex_string, data) == _parse(hexstrings._original, data), data


def test_installed_for_pyhanko_readers() -> None:
    from pyhanko.pdf_utils import generic

    from stamping.pdf.sm2_pyhanko import register_oids

    register_oids()
    assert generic.read_hex_string_from_stream is hexstrings.read_hex_string
    obj = generic.read_object(io.BytesIO(b"<414243>"), None)  # type: ignore[arg-type]
    assert bytes(obj.original_bytes) == b"ABC"
