"""stamping.pdf.fasthex reads every hex string as pyHanko's own reader does: same value, same position
after it, same error — including the inputs it hands back to pyHanko (comments, bad characters, no `>`)."""

from __future__ import annotations

import io

import pytest

from stamping.pdf import fasthex

CASES = [
    b"<48656c6c6f> rest",
    b"<48 65 6c\n6c\r\n6f\t> rest",
    b"<486> rest",  # odd: a final 0 is implied
    b"<> rest",
    b"<4%comment\n8> rest",
    b"<4G> rest",
    b"<4865",  # no end
    b"<" + b"30" * 40000 + b"00" * 40000 + b">>> tail",  # longer than one chunk
    b"<AbCdEf\x00\x0c>",
]


def _read(reader, data: bytes):  # type: ignore[no-untyped-def]
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except Exception as exc:  # noqa: BLE001 - the error is part of what must match
        return ("error", type(exc).__name__, str(exc))
    return (
        "value",
        bytes(value) if isinstance(value, bytes) else str(value),
        type(value).__name__,
        stream.tell(),
    )


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_result_as_pyhankos_reader(data: bytes):
    assert _read(fasthex.read_hex_string, data) == _read(fasthex.pyhanko_reader, data)


def test_installed_into_pyhanko_by_the_verifier():
    from pyhanko.pdf_utils import generic

    from stamping.pdf.sm2_pyhanko import register_oids

    register_oids()
    assert generic.read_hex_string_from_stream is fasthex.read_hex_string
