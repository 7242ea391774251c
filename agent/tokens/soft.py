"""The soft token: a PIN-protected file holding keys, their certificate chains and seals (development only).

File format (docs/soft-token.md): a JSON envelope. Certificates and seals are in clear (listing a token needs
no PIN); each private key is PKCS#8 DER encrypted with AES-256-GCM under a key derived from the PIN with
argon2id (parameters and salt in the file). The header (format, version, serial, KDF, cipher) is the associated
data of every ciphertext, and a key's ciphertext is also bound to its id, algorithm and certificate, so
swapping a certificate or weakening the KDF parameters makes decryption fail instead of silently changing
what gets signed.

The PIN retry counter mirrors a smart card: an attempt is counted (and written to disk) before the PIN is
checked, so killing the process mid-check does not give a free try; a correct PIN resets it; after
MAX_PIN_FAILURES consecutive failures the token is locked. Anyone who can edit the file can reset the counter
— the real protection of a soft token is the memory-hard KDF, which is why this is for development only.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.tokens.base import KeyInfo, TokenInfo
from agent.tokens.soft_keys import (
    certificate_algorithm,
    check_key_matches_certificate,
    key_from_pkcs8,
    key_id_for_certificate,
    key_to_pkcs8,
    parse_certificate,
)
from formats.errors import SealBridgeError
from stamping.fileout import atomic_write
from stamping.pinnedfile import open_regular_file

try:  # POSIX advisory locks between processes (the agent and the CLI may share a token file)
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock still applies
    fcntl = None  # type: ignore[assignment]

FORMAT = "sealbridge-soft-token"
VERSION = 1
CIPHER = "AES-256-GCM"
MAX_PIN_FAILURES = 6
MIN_PIN_LENGTH = 6
MAX_PIN_LENGTH = 64
MAX_FILE_SIZE = 16 * 1024 * 1024  # a token holds a few keys, certificates and seals, never megabytes
_PIN_CHECK_PLAINTEXT = b"sealbridge soft token PIN check v1"
# Bounds on the argon2id parameters read from a token file, checked before any derivation: anyone who can
# write the file chooses them, and the agent must not allocate gigabytes or hash for minutes because a file
# says so. The defaults (3 passes over 64 MiB) sit well inside; the ceiling is ~1 GiB and a few seconds.
MIN_KDF_MEMORY_KIB = 8 * 1024
MAX_KDF_MEMORY_KIB = 1024 * 1024
MAX_KDF_TIME_COST = 16
MAX_KDF_PARALLELISM = 8
MAX_KDF_WORK_KIB = 4 * 1024 * 1024  # passes × memory


class KdfRuns:
    """How many PIN derivations this process has run: the KDF is the soft token's whole unlock cost, so the
    agent must pay it once per approval (tests read it through the real token; nothing replaces the KDF)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


KDF_RUNS = KdfRuns()


@dataclass(frozen=True)
class KdfParams:
    """argon2id parameters; ~0.2 s on one core with the defaults (t=3, 64 MiB, p=1)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1
    salt: bytes = b""

    def with_new_salt(self) -> KdfParams:
        return KdfParams(self.time_cost, self.memory_kib, self.parallelism, secrets.token_bytes(16))

    def derive(self, pin: str) -> bytes:
        KDF_RUNS.add()
        return hash_secret_raw(
            pin.encode("utf-8"),
            self.salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=32,
            type=Type.ID,
            version=19,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "alg": "argon2id",
            "version": 19,
            "time_cost": self.time_cost,
            "memory_kib": self.memory_kib,
            "parallelism": self.parallelism,
            "salt": _b64(self.salt),
        }

    @classmethod
    def from_json(cls, obj: Any) -> KdfParams:
        if not isinstance(obj, dict) or obj.get("alg") != "argon2id" or obj.get("version") != 19:
            raise _damaged("unsupported KDF")
        params = cls(
            _int_field(obj, "time_cost", 1, MAX_KDF_TIME_COST),
            _int_field(obj, "memory_kib", MIN_KDF_MEMORY_KIB, MAX_KDF_MEMORY_KIB),
            _int_field(obj, "parallelism", 1, MAX_KDF_PARALLELISM),
            _unb64(obj.get("salt")),
        )
        if params.time_cost * params.memory_kib > MAX_KDF_WORK_KIB:
            raise _damaged("KDF cost too high")
        if not 16 <= len(params.salt) <= 64:
            raise _damaged("KDF salt length")
        return params


@dataclass
class SoftKeyEntry:
    """A key to put on a token: the private key object with its certificate and issuer chain (DER)."""

    key: Any  # formats.gm SM2PrivateKey or a cryptography RSA/EC private key
    certificate: bytes
    chain: list[bytes]
    label: str = ""


# ---------------------------------------------------------------------------------------------- helpers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _damaged("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise _damaged("bad base64") from None


def _int_field(obj: dict[str, Any], name: str, low: int, high: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _damaged(f"bad {name}")
    return value


def _damaged(why: str) -> SealBridgeError:
    return SealBridgeError("TOKEN_ERROR", f"soft token file is damaged or not a soft token: {why}")


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def check_new_pin(pin: str) -> None:
    """A PIN for a new or changed token: 6 to 64 characters (PIN_INVALID otherwise)."""
    if not isinstance(pin, str) or not MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH:
        raise SealBridgeError(
            "PIN_INVALID", f"the PIN must have {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters"
        )


# In-process lock per token file (by real path), plus an flock between processes (the agent and the CLI may
# share a token). The file itself is replaced on every write, so the flock is taken on its directory, which
# stays the same inode; a directory of dev tokens is rarely busy enough for that to matter.
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    key = os.path.realpath(path)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with _thread_lock(path):
        if fcntl is None:
            yield
            return
        try:
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            raise SealBridgeError(
                "TOKEN_ABSENT", f"soft token directory {path.parent} is not accessible"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write the token file atomically, mode 0600 (never half-written)."""
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    atomic_write(path, data, 0o600, error_code="TOKEN_ERROR")


def _read_doc(path: Path, missing_code: str = "TOKEN_NOT_FOUND") -> dict[str, Any]:
    try:
        with open_regular_file(path) as f:  # a pipe named as the token is refused, not waited on
            raw = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise SealBridgeError(missing_code, f"soft token file {path} not found") from None
    except OSError as exc:
        raise SealBridgeError("TOKEN_ERROR", f"cannot read soft token {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise _damaged("file too large")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged("not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _damaged("wrong format marker")
    if doc.get("version") != VERSION:
        raise SealBridgeError("TOKEN_ERROR", f"soft token version {doc.get('version')!r} is not supported")
    for name, kind in (("keys", list), ("seals", list), ("pin_state", dict), ("pin_check", dict)):
        if not isinstance(doc.get(name), kind):
            raise _damaged(f"missing {name}")
    # Listing needs no PIN, so these are read before any cryptography checks them: their shape is checked
    # here, so a damaged file is TOKEN_ERROR rather than a traceback.
    for entry in doc["keys"]:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "algorithm", "certificate")
        ):
            raise _damaged("bad key entry")
        if not isinstance(entry.get("chain", []), list) or not all(
            isinstance(c, str) for c in entry.get("chain", [])
        ):
            raise _damaged("bad certificate chain")
    if not all(isinstance(seal, str) for seal in doc["seals"]):
        raise _damaged("bad seal entry")
    failures = doc["pin_state"].get("failures", 0)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
        raise _damaged("bad PIN state")
    if doc.get("cipher") != CIPHER or not isinstance(doc.get("serial"), str):
        raise _damaged("bad header")
    return doc


def _header_aad(doc: dict[str, Any]) -> bytes:
    header = {k: doc[k] for k in ("format", "version", "serial", "kdf", "cipher")}
    return b"header:" + _canonical(header)


def _key_aad(doc: dict[str, Any], entry: dict[str, Any]) -> bytes:
    bound = {
        "id": entry["id"],
        "algorithm": entry["algorithm"],
        "certificate_sha256": hashlib.sha256(_unb64(entry["certificate"])).hexdigest(),
    }
    return _header_aad(doc) + b"\nkey:" + _canonical(bound)


def _pin_check_aad(doc: dict[str, Any]) -> bytes:
    return _header_aad(doc) + b"\npin-check"


def _seal(aes: AESGCM, plaintext: bytes, aad: bytes) -> dict[str, str]:
    nonce = secrets.token_bytes(12)
    return {"nonce": _b64(nonce), "ct": _b64(aes.encrypt(nonce, plaintext, aad))}


def _open(aes: AESGCM, box: Any, aad: bytes) -> bytes:
    if not isinstance(box, dict):
        raise _damaged("bad ciphertext entry")
    return aes.decrypt(_unb64(box.get("nonce")), _unb64(box.get("ct")), aad)


def _key_entry_json(doc: dict[str, Any], aes: AESGCM, item: SoftKeyEntry) -> dict[str, Any]:
    check_key_matches_certificate(item.key, item.certificate)
    for der in item.chain:
        parse_certificate(der)
    entry: dict[str, Any] = {
        "id": key_id_for_certificate(item.certificate),
        "label": item.label or _default_label(item.certificate),
        "algorithm": certificate_algorithm(item.certificate),
        "certificate": _b64(item.certificate),
        "chain": [_b64(c) for c in item.chain],
    }
    entry["private_key"] = _seal(aes, key_to_pkcs8(item.key), _key_aad(doc, entry))
    return entry


def _default_label(cert_der: bytes) -> str:
    subject = parse_certificate(cert_der)["tbs_certificate"]["subject"].native
    return str(subject.get("common_name") or subject.get("organization_name") or "key")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------------------- token


class SoftToken:
    """A soft token file. Implements agent.tokens.base.Token; safe to share between threads."""

    kind = "soft"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        _read_doc(self.path)  # fail early (TOKEN_NOT_FOUND / TOKEN_ERROR) on a missing or foreign file

    # -- creation -------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        pin: str,
        *,
        label: str = "",
        keys: Iterable[SoftKeyEntry] = (),
        seals: Iterable[bytes] = (),
        kdf: KdfParams | None = None,
        overwrite: bool = False,
    ) -> SoftToken:
        """Write a new token file (mode 0600) with the given keys and seals; one KDF run in all."""
        check_new_pin(pin)
        path = Path(path)
        if path.exists() and not overwrite:
            raise SealBridgeError("CONFLICT", f"{path} already exists")
        if not path.parent.is_dir():
            raise SealBridgeError("BAD_REQUEST", f"directory {path.parent} does not exist")
        params = (kdf or KdfParams()).with_new_salt()
        KdfParams.from_json(params.to_json())  # the bounds every later open checks: never write a dead token
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "serial": secrets.token_hex(8),
            "label": label or path.stem,
            "created": _now(),
            "kdf": params.to_json(),
            "cipher": CIPHER,
            "pin_state": {"failures": 0, "max_failures": MAX_PIN_FAILURES, "locked": False},
            "pin_check": {},
            "keys": [],
            "seals": [],
        }
        aes = AESGCM(params.derive(pin))
        doc["pin_check"] = _seal(aes, _PIN_CHECK_PLAINTEXT, _pin_check_aad(doc))
        for item in keys:
            _append_key(doc, aes, item)
        for seal in seals:
            _append_seal(doc, seal)
        with _file_lock(path):
            if path.exists() and not overwrite:
                raise SealBridgeError("CONFLICT", f"{path} already exists")
            _write_atomic(path, doc)
        return cls(path)

    # -- reading (no PIN) -------------------------------------------------------------------------------

    def info(self) -> TokenInfo:
        doc = _read_doc(self.path, "TOKEN_ABSENT")
        keys = [
            KeyInfo(
                key_id=str(e.get("id")),
                label=str(e.get("label", "")),
                algorithm=str(e.get("algorithm")),
                certificate=_unb64(e.get("certificate")),
                chain=[_unb64(c) for c in e.get("chain", [])],
            )
            for e in doc["keys"]
        ]
        state = doc["pin_state"]
        failures = int(state.get("failures", 0))
        return TokenInfo(
            token_id=f"soft:{self.path}",
            label=str(doc.get("label", self.path.stem)),
            kind="soft",
            serial=doc["serial"],
            manufacturer="SealBridge soft token (development only)",
            keys=keys,
            seals=[_unb64(s) for s in doc["seals"]],
            extra={
                "path": str(self.path),
                "locked": bool(state.get("locked")),
                "retries_left": max(0, MAX_PIN_FAILURES - failures),
                "created": doc.get("created"),
            },
        )

    # -- PIN-protected operations -------------------------------------------------------------------------

    def signer(self, pin: str, key_id: str | None = None):  # -> formats.keysigner.KeySigner
        with _file_lock(self.path):
            doc, aes = self._login(pin)
            entry = _find_key(doc, key_id)
            key = _decrypt_key(doc, aes, entry)
        from formats.keysigner import KeySigner

        return KeySigner(key, _unb64(entry["certificate"]), [_unb64(c) for c in entry.get("chain", [])])

    def private_key(self, pin: str, key_id: str | None = None) -> Any:
        """The decrypted private key object (for export by a developer; the agent uses signer())."""
        with _file_lock(self.path):
            doc, aes = self._login(pin)
            return _decrypt_key(doc, aes, _find_key(doc, key_id))

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        """Re-encrypt every key under a key derived from the new PIN with a fresh salt."""
        check_new_pin(new_pin)
        with _file_lock(self.path):
            doc, aes = self._login(old_pin)
            plain = [(entry, _decrypt_pkcs8(doc, aes, entry)) for entry in doc["keys"]]
            params = KdfParams.from_json(doc["kdf"]).with_new_salt()
            doc["kdf"] = params.to_json()
            new_aes = AESGCM(params.derive(new_pin))
            doc["pin_check"] = _seal(new_aes, _PIN_CHECK_PLAINTEXT, _pin_check_aad(doc))
            for entry, pkcs8 in plain:
                entry["private_key"] = _seal(new_aes, pkcs8, _key_aad(doc, entry))
            _write_atomic(self.path, doc)

    def add_key(self, pin: str, item: SoftKeyEntry) -> str:
        """Add a key with its certificate chain; returns its key id. Re-adding the same key replaces it."""
        with _file_lock(self.path):
            doc, aes = self._login(pin)
            key_id = _append_key(doc, aes, item)
            _write_atomic(self.path, doc)
        return key_id

    def import_pkcs12(self, pin: str, data: bytes, password: str | bytes | None, label: str = "") -> str:
        """Import the key and certificates of a PKCS#12 file (SM2 with legacy PBEs too); returns the key id."""
        from formats.gm.keys import load_pkcs12

        if isinstance(password, str):
            password = password.encode("utf-8")
        key, cert_der, chain = load_pkcs12(data, password)
        return self.add_key(pin, SoftKeyEntry(key, cert_der, list(chain), label))

    def add_seal(self, pin: str, seal_der: bytes) -> None:
        """Store a DER SESeal (a token write, so it needs the PIN like a card's C_CreateObject)."""
        with _file_lock(self.path):
            doc, _aes = self._login(pin)
            _append_seal(doc, seal_der)
            _write_atomic(self.path, doc)

    # -- the PIN check ----------------------------------------------------------------------------------

    def _login(self, pin: str) -> tuple[dict[str, Any], AESGCM]:
        """Check the PIN (caller holds the file lock); returns the document and the unwrapping cipher."""
        if not isinstance(pin, str) or not MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH:
            # Like CKR_PIN_LEN_RANGE: a PIN that cannot be right is refused without using up a try.
            raise SealBridgeError(
                "PIN_INVALID", f"the PIN must have {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} characters"
            )
        doc = _read_doc(self.path, "TOKEN_ABSENT")
        state = doc["pin_state"]
        failures = state.get("failures", 0)
        if not isinstance(failures, int) or failures < 0:
            raise _damaged("bad PIN state")
        if state.get("locked") or failures >= MAX_PIN_FAILURES:
            raise SealBridgeError("PIN_LOCKED", "too many wrong PINs", {"retries_left": 0})
        params = KdfParams.from_json(doc["kdf"])
        # Count the attempt before checking, so an interrupted check still costs a try.
        state["failures"] = failures + 1
        _write_atomic(self.path, doc)
        aes = AESGCM(params.derive(pin))
        try:
            ok = _open(aes, doc["pin_check"], _pin_check_aad(doc)) == _PIN_CHECK_PLAINTEXT
        except InvalidTag:
            ok = False
        if not ok:
            left = MAX_PIN_FAILURES - state["failures"]
            if left <= 0:
                state["locked"] = True
                _write_atomic(self.path, doc)
                raise SealBridgeError("PIN_LOCKED", "too many wrong PINs", {"retries_left": 0})
            raise SealBridgeError("PIN_INCORRECT", None, {"retries_left": left})
        state["failures"] = 0
        state["locked"] = False
        _write_atomic(self.path, doc)
        return doc, aes


def _find_key(doc: dict[str, Any], key_id: str | None) -> dict[str, Any]:
    entries = doc["keys"]
    if not entries:
        raise SealBridgeError("KEY_NOT_FOUND", "the soft token holds no key")
    if key_id is None:
        return entries[0]
    for entry in entries:
        if entry.get("id") == key_id.lower():
            return entry
    raise SealBridgeError("KEY_NOT_FOUND", f"no key with id {key_id} on the soft token")


def _decrypt_pkcs8(doc: dict[str, Any], aes: AESGCM, entry: dict[str, Any]) -> bytes:
    try:
        return _open(aes, entry.get("private_key"), _key_aad(doc, entry))
    except (InvalidTag, KeyError):
        # The PIN was right (the check block opened), so the key entry was altered.
        raise _damaged(f"key {entry.get('id')} does not decrypt (altered certificate or key)") from None


def _decrypt_key(doc: dict[str, Any], aes: AESGCM, entry: dict[str, Any]) -> Any:
    return key_from_pkcs8(_decrypt_pkcs8(doc, aes, entry))


def _append_key(doc: dict[str, Any], aes: AESGCM, item: SoftKeyEntry) -> str:
    entry = _key_entry_json(doc, aes, item)
    doc["keys"] = [e for e in doc["keys"] if e.get("id") != entry["id"]] + [entry]
    return entry["id"]


def _append_seal(doc: dict[str, Any], seal_der: bytes) -> None:
    from formats.ses import parse_seal

    if not isinstance(seal_der, bytes | bytearray):
        raise SealBridgeError("BAD_REQUEST", "a seal must be DER bytes")
    parse_seal(bytes(seal_der))  # DOC_MALFORMED for anything that is not a seal
    encoded = _b64(bytes(seal_der))
    if encoded not in doc["seals"]:
        doc["seals"].append(encoded)


def open_soft_token(path: str | Path) -> SoftToken:
    return SoftToken(path)
