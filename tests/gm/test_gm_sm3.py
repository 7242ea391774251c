"""SM3 through cryptography: standard vectors, streaming, and agreement with an independent implementation."""

from __future__ import annotations

import io
import os

from gmssl import func as gmssl_func
from gmssl import sm3 as gmssl_sm3

from formats.gm import SM3Hasher, sm3, sm3_file, sm3_stream
from formats.gm.sm3 import CHUNK

# GB/T 32905-2016 appendix A
ABC = bytes.fromhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
ABCD16 = bytes.fromhex("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


def test_standard_vectors():
    assert sm3(b"abc") == ABC
    assert sm3(b"abcd" * 16) == ABCD16


def test_agrees_with_pure_python_sm3_on_small_inputs():
    # gmssl's SM3 is an independent implementation (only ever used here, on tiny inputs).
    for n in (0, 1, 55, 56, 63, 64, 65, 200):
        data = os.urandom(n)
        assert sm3(data).hex() == gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data))


def test_hasher_incremental_and_repeatable():
    data = os.urandom(10_000)
    h = SM3Hasher()
    for i in range(0, len(data), 777):
        h.update(data[i : i + 777])
    assert h.digest() == sm3(data)
    assert h.digest() == sm3(data)  # digest() does not consume the state
    clone = h.copy()
    clone.update(b"x")
    h.update(b"x")
    assert clone.hexdigest() == h.hexdigest() == sm3(data + b"x").hex()
    assert SM3Hasher(b"abc").digest() == ABC


def test_file_and_stream_span_several_chunks(tmp_path):
    data = os.urandom(2 * CHUNK + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sm3_file(path) == sm3(data)
    assert sm3_stream(io.BytesIO(data)) == sm3(data)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert sm3_file(empty) == sm3(b"")
