"""SM2 keys and SM2-with-SM3 signatures (GM/T 0003, user ID 1234567812345678 per GM/T 0009).

One interface over two backends: tongsuopy (C, default) and gmssl (pure Python fallback). Select one per
call with `backend=`, or for the process with the environment variable SEALBRIDGE_SM2_BACKEND.
Signing always emits DER SEQUENCE{r, s}; verifying accepts DER, raw r‖s and SKF's 128-byte blob, and
answers False (never raises) for a malformed signature.
"""

from __future__ import annotations

import importlib
import os
import secrets
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

from asn1crypto import core, keys, pem

from .curve import GX, GY, A, B, N, P, on_curve, sm2_digest, z_value
from .oids import OID_EC_PUBLIC_KEY, OID_SM2
from .sigcodec import encode_der, parse_rs

# Fastest first. A backend's module (and its library) is imported on first use only: where tongsuopy
# works, the fallback's gmssl and pycryptodome are never loaded (about 10 ms of every verifier's start).
_BACKENDS: dict[str, str] = {"tongsuo": "._backend_tongsuo", "gmssl": "._backend_gmssl"}
ENV_BACKEND = "SEALBRIDGE_SM2_BACKEND"


@cache
def _loaded(name: str) -> ModuleType:
    return importlib.import_module(_BACKENDS[name], __package__)


def available_backends() -> list[str]:
    """Names of the usable SM2 backends, fastest first."""
    return [name for name in _BACKENDS if _loaded(name).available()]


def default_backend() -> str:
    wanted = os.environ.get(ENV_BACKEND)
    if wanted:
        return _backend_module(wanted).NAME
    name = next((name for name in _BACKENDS if _loaded(name).available()), None)
    if name is None:
        raise RuntimeError("no SM2 backend: install tongsuopy or gmssl")
    return name


def _backend_module(name: str | None) -> ModuleType:
    if name is None:
        name = default_backend()
    if name not in _BACKENDS:
        raise ValueError(f"unknown SM2 backend {name!r} (known: {', '.join(_BACKENDS)})")
    mod = _loaded(name)
    if not mod.available():
        raise RuntimeError(f"SM2 backend {name!r} is not installed")
    return mod


def warm_up() -> None:
    """Load the default backend and build one key with it (the curve's base point): what the first SM2
    verification in a process would otherwise pay (tongsuopy: ~15 ms to import, ~10 ms for its library's
    first key), paid now, when the caller has a moment. A process with no usable backend pays nothing."""
    try:
        _public_handle(_backend_module(None), GX, GY)
    except Exception:  # noqa: BLE001 - no backend (the first real use says so), or a library that fails to load
        return


def _decompress(prefix: int, x: int) -> int:
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)  # p ≡ 3 (mod 4)
    if (y * y) % P != rhs:
        raise ValueError("compressed SM2 point is not on the curve")
    if (y & 1) != (prefix & 1):
        y = P - y
    return y


@lru_cache(maxsize=256)
def _public_handle(mod: ModuleType, x: int, y: int) -> Any:
    # Once per key and process: the backend checks the point when it builds the key (about a millisecond),
    # and a batch, or the agent, verifies the same signers', makers' and roots' keys again and again.
    return mod.public_handle(x, y)


class SM2PublicKey:
    """An SM2 public point (x, y), validated to lie on the curve."""

    __slots__ = ("x", "y", "_handles")

    def __init__(self, x: int, y: int) -> None:
        if not on_curve(x, y) or (x, y) == (0, 0):
            raise ValueError("point is not on the SM2 curve")
        self.x = x
        self.y = y
        self._handles: dict[str, Any] = {}

    @classmethod
    def from_point(cls, point: bytes | tuple[int, int]) -> SM2PublicKey:
        """From 04‖X‖Y (65 bytes), X‖Y (64 bytes), a compressed 02/03‖X point, or an (x, y) pair."""
        if isinstance(point, tuple):
            return cls(*point)
        point = bytes(point)
        if len(point) == 65 and point[0] == 4:
            return cls(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))
        if len(point) == 64:
            return cls(int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big"))
        if len(point) == 33 and point[0] in (2, 3):
            x = int.from_bytes(point[1:], "big")
            return cls(x, _decompress(point[0], x))
        raise ValueError(f"not an SM2 point encoding ({len(point)} bytes)")

    @classmethod
    def from_spki_der(cls, der: bytes) -> SM2PublicKey:
        """From a DER SubjectPublicKeyInfo with id-ecPublicKey + the SM2 curve (or the SM2 OID itself)."""
        try:
            spki = keys.PublicKeyInfo.load(der)
            return cls.from_spki(spki)
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"malformed SubjectPublicKeyInfo: {exc}") from exc

    @classmethod
    def from_spki(cls, spki: keys.PublicKeyInfo) -> SM2PublicKey:
        if not is_sm2_spki(spki):
            raise ValueError("not an SM2 public key")
        return cls.from_point(bytes(spki["public_key"]))

    @property
    def point(self) -> bytes:
        """Uncompressed encoding 04‖X‖Y."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def to_spki(self) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": OID_EC_PUBLIC_KEY,
                    "parameters": keys.ECDomainParameters(name="named", value=OID_SM2),
                },
                "public_key": self.point,
            }
        )

    def to_spki_der(self) -> bytes:
        return self.to_spki().dump()

    def to_pem(self) -> bytes:
        return pem.armor("PUBLIC KEY", self.to_spki_der())

    def z(self) -> bytes:
        """Z value with the default ID."""
        return z_value(self.x, self.y)

    def digest(self, data: bytes) -> bytes:
        """e = SM3(Z ‖ data), for devices (SKF) that sign a precomputed digest."""
        return sm2_digest(self.x, self.y, data)

    def _handle(self, mod: ModuleType) -> Any:
        handle = self._handles.get(mod.NAME)
        if handle is None:
            handle = self._handles[mod.NAME] = _public_handle(mod, self.x, self.y)
        return handle

    def verify(self, data: bytes, signature: bytes, backend: str | None = None) -> bool:
        """True if `signature` (DER, raw r‖s or SKF blob) is a valid SM2-with-SM3 signature over `data`."""
        mod = _backend_module(backend)
        try:
            r, s = parse_rs(bytes(signature))
        except (ValueError, TypeError):
            return False
        if not (1 <= r < N and 1 <= s < N):
            return False
        try:
            return mod.verify(self._handle(mod), bytes(data), encode_der(r, s))
        except Exception:  # a backend choking on odd input is a failed verification, not a crash
            return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))

    def __repr__(self) -> str:
        return f"SM2PublicKey(x={self.x:064x})"


class SM2PrivateKey:
    """An SM2 private scalar d with its public point."""

    __slots__ = ("_d", "_public", "_handles")

    def __init__(self, d: int, public_key: SM2PublicKey | None = None, backend: str | None = None) -> None:
        if not 1 <= d <= N - 2:
            raise ValueError("SM2 private key out of range")
        self._d = d
        self._handles: dict[str, Any] = {}
        if public_key is None:
            mod = _backend_module(backend)
            public_key = SM2PublicKey(*mod.public_point(d))
        self._public = public_key

    @classmethod
    def generate(cls, backend: str | None = None) -> SM2PrivateKey:
        return cls(secrets.randbelow(N - 2) + 1, backend=backend)

    @classmethod
    def from_bytes(cls, d: bytes, backend: str | None = None) -> SM2PrivateKey:
        return cls(int.from_bytes(d, "big"), backend=backend)

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    @property
    def private_value(self) -> int:
        return self._d

    def sign(self, data: bytes, backend: str | None = None) -> bytes:
        """DER SEQUENCE{r, s}: SM2 signature over SM3(Z ‖ data) with the default ID."""
        mod = _backend_module(backend)
        handle = self._handles.get(mod.NAME)
        if handle is None:
            handle = self._handles[mod.NAME] = mod.private_handle(self._d)
        return mod.sign(handle, (self._public.x, self._public.y), bytes(data))

    def _ec_private_key(self, with_params: bool) -> keys.ECPrivateKey:
        fields: dict[str, Any] = {
            "version": "ecPrivkeyVer1",
            "private_key": self._d,
            "public_key": self._public.point,
        }
        if with_params:
            fields["parameters"] = keys.ECDomainParameters(name="named", value=OID_SM2)
        return keys.ECPrivateKey(fields)

    def to_sec1_der(self) -> bytes:
        """SEC1 ECPrivateKey ('BEGIN EC PRIVATE KEY'), with the SM2 curve as parameters."""
        return self._ec_private_key(with_params=True).dump()

    def to_pkcs8_der(self) -> bytes:
        """Unencrypted PKCS#8 PrivateKeyInfo (what OpenSSL 3 writes for SM2 keys)."""
        info = keys.PrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": {
                    "algorithm": OID_EC_PUBLIC_KEY,
                    "parameters": keys.ECDomainParameters(name="named", value=OID_SM2),
                },
                "private_key": self._ec_private_key(with_params=False),
            }
        )
        return info.dump()

    def to_pkcs8_pem(self) -> bytes:
        return pem.armor("PRIVATE KEY", self.to_pkcs8_der())

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self._public!r})"


def is_sm2_spki(spki: keys.PublicKeyInfo) -> bool:
    """id-ecPublicKey with the SM2 named curve, or (rarely) the SM2 OID as the algorithm itself."""
    alg = spki["algorithm"]
    oid = alg["algorithm"].dotted
    if oid == OID_SM2:
        return True
    if oid != OID_EC_PUBLIC_KEY:
        return False
    params = alg["parameters"]
    return (
        params.name == "named"
        and isinstance(params.chosen, core.ObjectIdentifier)
        and (params.chosen.dotted == OID_SM2)
    )


__all__ = [
    "GX",
    "GY",
    "N",
    "SM2PrivateKey",
    "SM2PublicKey",
    "available_backends",
    "default_backend",
    "is_sm2_spki",
]
