"""formats.dochash: hashlib and the cryptography fallback compute the same digests, branch the same way with
copy(), and this machine's document hashes run on hashlib (whose updates release the GIL)."""

from __future__ import annotations

import os

import pytest

from formats import dochash
from formats.dochash import cryptography_hash, new_hash
from formats.errors import SealBridgeError
from formats.gm import SM3Hasher, sm3

# GB/T 32905-2016 appendix A (SM3) and FIPS 180-2 appendix B (SHA-256).
VECTORS = [
    ("sm3", b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    ("sm3", b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        "sha256",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
]

BACKENDS = {"default": new_hash, "cryptography": cryptography_hash}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize(("name", "message", "expected"), VECTORS)
def test_standard_vectors_on_each_backend(backend: str, name: str, message: bytes, expected: str) -> None:
    make = BACKENDS[backend]
    assert make(name, message).hexdigest() == expected
    h = make(name)
    for i in range(len(message)):  # byte by byte: the state carries across updates
        h.update(message[i : i + 1])
    assert h.digest() == bytes.fromhex(expected)
    assert h.digest() == bytes.fromhex(expected)  # digest() leaves the state usable
    assert h.digest_size == len(bytes.fromhex(expected)) and h.name == name


@pytest.mark.parametrize("name", ["sm3", "sha256", "sha384", "sha512", "sha1"])
def test_backends_agree_on_large_input_and_on_branches(name: str) -> None:
    """copy() branches a state: the original and the copy go on independently, as the range sweep uses them."""
    data = os.urandom(3 * 4096 + 77)  # several updates above hashlib's 2 KiB GIL threshold, one below
    states = {b: make(name) for b, make in BACKENDS.items()}
    digests: dict[str, list[bytes]] = {b: [] for b in BACKENDS}
    for b, h in states.items():
        h.update(memoryview(data)[:5000])
        branch = h.copy()
        h.update(data[5000:])
        branch.update(b"another tail")
        twig = branch.copy()
        twig.update(memoryview(data)[100:9000])
        digests[b] = [h.digest(), branch.digest(), twig.hexdigest()]
    assert digests["default"] == digests["cryptography"]
    assert digests["default"][0] == new_hash(name, data).digest()
    assert digests["default"][1] == new_hash(name, data[:5000] + b"another tail").digest()
    assert (
        digests["default"][2]
        == cryptography_hash(name, data[:5000] + b"another tail" + data[100:9000]).hexdigest()
    )
    assert len({d if isinstance(d, bytes) else bytes.fromhex(d) for d in digests["default"]}) == 3


def test_fallback_states_are_cryptography_contexts() -> None:
    """The fallback really is the other library (not hashlib under another name)."""
    from cryptography.hazmat.primitives import hashes

    h = cryptography_hash("sm3", b"abc")
    assert isinstance(h, dochash.CryptographyHash)
    assert isinstance(h._ctx, hashes.Hash)
    assert isinstance(h.copy()._ctx, hashes.Hash)


def test_fallback_used_when_hashlib_lacks_the_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenSSL built without SM3 (hashlib does not list it): new_hash falls back and still gives SM3."""
    dochash._constructor.cache_clear()
    dochash._hashlib_constructor.cache_clear()
    monkeypatch.setattr(dochash.hashlib, "algorithms_available", {"sha256"})
    try:
        assert dochash.backend("sm3") == "cryptography"
        assert dochash.backend("sha256") == "hashlib"
        state = new_hash("sm3", b"abc")
        assert isinstance(state, dochash.CryptographyHash)
        assert state.hexdigest() == VECTORS[0][2]
        assert SM3Hasher(b"abcd" * 16).hexdigest() == VECTORS[1][2]
    finally:
        monkeypatch.undo()
        dochash._constructor.cache_clear()
        dochash._hashlib_constructor.cache_clear()
    assert dochash.backend("sm3") == "hashlib"


def test_fallback_used_when_hashlib_lists_but_refuses_the_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listed but unusable (a FIPS provider refusing it): the probe notices once and falls back."""
    real_new = dochash.hashlib.new

    def refusing(name: str, *args: object, **kwargs: object) -> object:
        if name == "sm3":
            raise ValueError("unsupported hash type sm3")
        return real_new(name, *args, **kwargs)

    dochash._constructor.cache_clear()
    dochash._hashlib_constructor.cache_clear()
    monkeypatch.setattr(dochash.hashlib, "new", refusing)
    try:
        assert dochash.backend("sm3") == "cryptography"
        assert sm3(b"abc").hex() == VECTORS[0][2]
    finally:
        monkeypatch.undo()
        dochash._constructor.cache_clear()
        dochash._hashlib_constructor.cache_clear()


def test_this_machine_hashes_documents_on_hashlib() -> None:
    """Python's OpenSSL here offers SM3 and SHA-256: document hashes take hashlib's states, whose updates
    release the GIL (hashing threads run beside Python work on the other core)."""
    assert dochash.backend("sm3") == "hashlib"
    assert dochash.backend("sha256") == "hashlib"
    assert not isinstance(new_hash("sm3"), dochash.CryptographyHash)
    assert type(new_hash("sm3")).__module__ == "_hashlib"


def test_unknown_algorithm_is_a_clear_error() -> None:
    for make in BACKENDS.values():
        with pytest.raises(SealBridgeError) as err:
            make("whirlpool")
        assert err.value.code == "MECHANISM_UNSUPPORTED"
    assert not dochash.supported("shake_128") and dochash.supported("SM3")
