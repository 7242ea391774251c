"""The one place that makes hash states for documents: OpenSSL through `hashlib` first, `cryptography` after.

Every digest over a whole document, an upload, a package entry or a signature's byte ranges starts here,
so the choice of backend, and what is known about it, lives in one module:

- `hashlib` (the OpenSSL Python was built with) releases the GIL while it hashes an update of 2 KiB or
  more, its states copy cheaply, and `digest()` may be called again and again. It is used for a name
  whenever that OpenSSL offers the algorithm (SM3 needs OpenSSL 1.1.1 or later, built with SM3).
- `cryptography` carries its own OpenSSL, with SM3 always in it: the fallback where Python's OpenSSL
  lacks an algorithm (some distributions build without SM3). Its states are wrapped to look like hashlib's.

Both compute the same function (tests/formats/test_dochash.py checks the standard vectors on each), at the
same speed here. The states a thread feeds beside Python work only run in parallel with it while an
update is in progress: each update ends by taking the GIL back, which can wait a whole switch interval
(5 ms) behind a busy Python thread. So a thread that hashes next to Python work should feed large pieces
(megabytes, or a whole buffer in one call), not small chunks.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from formats.errors import SealBridgeError

#: The algorithms documents are hashed with (hashlib's names), and each one's `cryptography` class name
#: and digest size (a hashlib constructor that answers with another size is not the algorithm we want).
ALGORITHMS: dict[str, tuple[str, int]] = {
    "sm3": ("SM3", 32),
    "sha256": ("SHA256", 32),
    "sha384": ("SHA384", 48),
    "sha512": ("SHA512", 64),
    "sha224": ("SHA224", 28),
    "sha1": ("SHA1", 20),
    "sha3_256": ("SHA3_256", 32),
    "sha3_384": ("SHA3_384", 48),
    "sha3_512": ("SHA3_512", 64),
    "md5": ("MD5", 16),
}


class Hasher(Protocol):
    """What every state made here offers (hashlib's interface)."""

    @property
    def name(self) -> str: ...
    @property
    def digest_size(self) -> int: ...
    def update(self, data: Any, /) -> None: ...
    def copy(self) -> Hasher: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def supported(name: str) -> bool:
    return name.lower() in ALGORITHMS


def new_hash(name: str, data: Any = b"") -> Hasher:
    """A fresh state for `name` (hashlib's spelling, any case), fed `data` if given: hashlib's when Python's
    OpenSSL offers the algorithm, else cryptography's. MECHANISM_UNSUPPORTED for a name not in ALGORITHMS."""
    constructor = _constructor(name.lower())
    return constructor(data) if len(data) else constructor()


def backend(name: str) -> str:
    """ "hashlib" or "cryptography": where new_hash(name)'s states come from on this machine."""
    return "hashlib" if _hashlib_constructor(name.lower()) is not None else "cryptography"


def cryptography_hash(name: str, data: Any = b"") -> CryptographyHash:
    """A state of the fallback backend, whatever hashlib offers (tests compare the two backends)."""
    if name.lower() not in ALGORITHMS:
        raise _unsupported(name)
    state = CryptographyHash(name.lower())
    if len(data):
        state.update(data)
    return state


class CryptographyHash:
    """A `cryptography` hash context with hashlib's interface (digest() does not end it)."""

    __slots__ = ("_ctx", "digest_size", "name")

    def __init__(self, name: str, ctx: Any = None) -> None:
        self.name = name
        self.digest_size = ALGORITHMS[name][1]
        if ctx is None:
            from cryptography.hazmat.primitives import hashes  # only where the fallback is used

            ctx = hashes.Hash(getattr(hashes, ALGORITHMS[name][0])())
        self._ctx = ctx

    def update(self, data: Any, /) -> None:
        self._ctx.update(data)

    def copy(self) -> CryptographyHash:
        return CryptographyHash(self.name, self._ctx.copy())

    def digest(self) -> bytes:
        return self._ctx.copy().finalize()  # contexts finalise once: finalise a copy

    def hexdigest(self) -> str:
        return self.digest().hex()


@functools.cache
def _constructor(name: str) -> Callable[..., Hasher]:
    if name not in ALGORITHMS:
        raise _unsupported(name)
    found = _hashlib_constructor(name)
    if found is not None:
        return found
    return functools.partial(cryptography_hash, name)


@functools.cache
def _hashlib_constructor(name: str) -> Callable[..., Hasher] | None:
    """hashlib's constructor for `name` if Python's OpenSSL offers it and it works (probed once)."""
    if name not in hashlib.algorithms_available:
        return None
    # hashlib.sha256 and friends skip new()'s name lookup; sm3 has no such attribute.
    constructor = getattr(hashlib, name, None) or functools.partial(hashlib.new, name)
    try:
        probe = constructor()
        probe.update(b"abc")
        ok = probe.digest_size == ALGORITHMS[name][1] and len(probe.copy().digest()) == probe.digest_size
    except (ValueError, TypeError):  # listed, but the provider refuses it (FIPS mode, a missing module)
        return None
    return constructor if ok else None


def _unsupported(name: str) -> SealBridgeError:
    # Imported here: the child that hashes a document for `sealbridge verify` (stamping.pdf.sigdigest) loads
    # this module and hashlib, not the errors' dataclasses (with inspect and ast, ~8 ms of its pass).
    from formats.errors import SealBridgeError

    return SealBridgeError("MECHANISM_UNSUPPORTED", f"digest algorithm {name!r}")
