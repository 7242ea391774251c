"""SKF (GM/T 0016) USB keys behind agent.tokens.base.Token, through the vendor's library (ctypes).

A key is addressed as `skf:DEVICE[/APPLICATION/CONTAINER]`; its keys are its containers, with key id
"APPLICATION/CONTAINER". Signing is SM2 only: e = SM3(Z ‖ M) with the signer ID is computed on the host (or by
the key, per vendor profile, skf_profiles.json), then SKF_ECCSignData signs e; the ECCSIGNATUREBLOB becomes DER.
Seals stored on the key are read from the application file `sealbridge.seals` (DER SESeals one after another;
SKF_ReadFile), where the library and the key have it.

Every call may block (USB I/O): the agent runs them through agent.tokens.worker; calls into one library are
serialised by its lock.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from asn1crypto import pem, x509

from agent.tokens.base import KeyInfo, TokenInfo
from formats.errors import SealBridgeError
from formats.gm import raw_to_der, sm2_digest

from .pkcs11_module import TokenPresence
from .skf_errors import SAR_CODES, sar_error
from .skf_lib import (
    CONTAINER_ECC,
    CONTAINER_RSA,
    HANDLE,
    MAX_FILE,
    SGD_SM3,
    ULONG,
    USER_TYPE,
    DevInfo,
    EccPublicKeyBlob,
    EccSignatureBlob,
    SkfLibrary,
    cstr,
    encode_name,
    get_library,
)
from .skf_profiles import SkfProfile, choose_profile

log = logging.getLogger(__name__)

SEAL_FILE = "sealbridge.seals"
MAX_SEALS = 32


@dataclass(frozen=True)
class SkfModuleConfig:
    path: str
    profile: str | None = None  # skf_profiles.json name; None = chosen by library file name
    profiles_file: str | None = None


SkfModuleSpec = str | os.PathLike[str] | dict[str, Any] | SkfModuleConfig


def skf_config(spec: SkfModuleSpec) -> SkfModuleConfig:
    if isinstance(spec, SkfModuleConfig):
        return spec
    if isinstance(spec, dict):
        if not isinstance(spec.get("path"), str):
            raise SealBridgeError("BAD_REQUEST", "an SKF library entry needs a 'path'")
        return SkfModuleConfig(spec["path"], spec.get("profile"), spec.get("profiles_file"))
    return SkfModuleConfig(os.fspath(spec))


def parse_location(rest: str) -> tuple[str, str | None]:
    """ "DEVICE" or "DEVICE/APPLICATION/CONTAINER" → (device, "APPLICATION/CONTAINER" or None)."""
    parts = rest.split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and all(parts):
        return parts[0], f"{parts[1]}/{parts[2]}"
    raise SealBridgeError(
        "BAD_REQUEST", f"token spec skf:{rest!r} must be skf:DEVICE[/APPLICATION/CONTAINER]"
    )


# -- handles -----------------------------------------------------------------------------------------------
@contextmanager
def _device(lib: SkfLibrary, name: str) -> Iterator[Any]:
    handle = HANDLE()
    lib.check("SKF_ConnectDev", encode_name(name), ctypes.byref(handle), what=f"SKF_ConnectDev({name})")
    try:
        yield handle
    finally:
        lib.call("SKF_DisConnectDev", handle)


@contextmanager
def _opened(lib: SkfLibrary, kind: str, parent: Any, name: str) -> Iterator[Any]:
    """An application (kind "Application") or container (kind "Container") handle, closed on exit."""
    handle = HANDLE()
    lib.check(f"SKF_Open{kind}", parent, encode_name(name), ctypes.byref(handle), what=f"SKF_Open{kind}")
    try:
        yield handle
    finally:
        lib.call(f"SKF_Close{kind}", handle)


def _certificate(lib: SkfLibrary, con: Any, profile: SkfProfile) -> bytes | None:
    """The container's signing certificate (DER), None when it has none."""
    try:
        raw = lib.blob("SKF_ExportCertificate", con, 1)
    except SealBridgeError as err:
        if (err.extra or {}).get("sar") in (
            "SAR_CERTNOTFOUNTERR",
            "SAR_FILE_NOT_EXIST",
            "SAR_KEYNOTFOUNTERR",
        ):
            return None
        raise
    if not raw:
        return None
    if profile.cert_encoding == "auto" and pem.detect(raw):
        _, _, raw = pem.unarmor(raw)
    try:
        x509.Certificate.load(raw).native  # noqa: B018 - parse it fully now, not in the middle of a stamp
    except ValueError as exc:
        raise SealBridgeError("CERT_INVALID", f"certificate in the SKF container: {exc}") from None
    return raw


def _algorithm(cert_der: bytes) -> str:
    from formats.gm import is_sm2_spki

    spki = x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
    if is_sm2_spki(spki):
        return "sm2"
    return "rsa" if spki["algorithm"]["algorithm"].native in ("rsa", "rsassa_pss") else "ecdsa"


def split_seals(raw: bytes) -> list[bytes]:
    """DER values one after another → the list of them (stops at the first malformed one)."""
    out, pos = [], 0
    while pos + 2 <= len(raw) and len(out) < MAX_SEALS:
        if raw[pos] != 0x30:
            break
        first = raw[pos + 1]
        if first < 0x80:
            size, head = first, 2
        else:
            n = first & 0x7F
            if not 1 <= n <= 4 or pos + 2 + n > len(raw):
                break
            size, head = int.from_bytes(raw[pos + 2 : pos + 2 + n], "big"), 2 + n
        end = pos + head + size
        if end > len(raw):
            break
        out.append(raw[pos:end])
        pos = end
    return out


def _read_seals(lib: SkfLibrary, app: Any) -> list[bytes]:
    if not (lib.has("SKF_ReadFile") and lib.has("SKF_EnumFiles")):
        return []
    try:
        if SEAL_FILE not in lib.names("SKF_EnumFiles", app):
            return []
        out_len = ULONG(MAX_FILE)
        buf = ctypes.create_string_buffer(MAX_FILE)
        lib.check("SKF_ReadFile", app, encode_name(SEAL_FILE), 0, MAX_FILE, buf, ctypes.byref(out_len))
    except SealBridgeError as err:
        if err.code == "TOKEN_ABSENT":
            raise
        log.warning("reading %s: %s", SEAL_FILE, err.detail)
        return []
    return split_seals(buf.raw[: out_len.value])


def _pin_state(lib: SkfLibrary, app: Any) -> tuple[int, int]:
    """(max tries, tries left) of the user PIN."""
    max_tries, left, is_default = ULONG(0), ULONG(0), ctypes.c_int64(0)
    lib.check(
        "SKF_GetPINInfo",
        app,
        USER_TYPE,
        ctypes.byref(max_tries),
        ctypes.byref(left),
        ctypes.byref(is_default),
        what="SKF_GetPINInfo",
    )
    return max_tries.value, left.value


def _dev_info(lib: SkfLibrary, dev: Any) -> DevInfo:
    info = DevInfo()
    lib.check("SKF_GetDevInfo", dev, ctypes.byref(info), what="SKF_GetDevInfo")
    return info


# -- the token ---------------------------------------------------------------------------------------------
class SkfToken:
    """One SKF device of one library, addressed by device name."""

    kind = "skf"

    def __init__(self, module: SkfModuleSpec, device: str, key_id: str | None = None) -> None:
        self.config = skf_config(module)
        self.library = get_library(self.config.path)
        self.profile = choose_profile(self.config.path, self.config.profile, self.config.profiles_file)
        self.device = device
        self.key_id = key_id
        self.token_id = f"skf:{device}"

    def _keys(self, lib: SkfLibrary, dev: Any) -> tuple[list[KeyInfo], list[bytes], dict[str, Any]]:
        keys: list[KeyInfo] = []
        seals: list[bytes] = []
        pins: dict[str, Any] = {}
        for app_name in lib.names("SKF_EnumApplication", dev):
            with _opened(lib, "Application", dev, app_name) as app:
                pins[app_name] = _pin_state(lib, app)
                seals.extend(_read_seals(lib, app))
                for con_name in lib.names("SKF_EnumContainer", app):
                    with _opened(lib, "Container", app, con_name) as con:
                        ctype = ULONG(0)
                        lib.check(
                            "SKF_GetContainerType", con, ctypes.byref(ctype), what="SKF_GetContainerType"
                        )
                        if ctype.value not in (CONTAINER_ECC, CONTAINER_RSA):
                            continue
                        if ctype.value == CONTAINER_RSA and self.profile.rsa_containers == "hide":
                            continue
                        cert = _certificate(lib, con, self.profile)
                        if cert is None:
                            continue  # a container without a certificate cannot be bound to a seal
                        keys.append(KeyInfo(f"{app_name}/{con_name}", con_name, _algorithm(cert), cert, []))
        return keys, seals, pins

    def info(self) -> TokenInfo:
        lib = self.library
        with lib.lock, _device(lib, self.device) as dev:
            dev_info = _dev_info(lib, dev)
            keys, seals, pins = self._keys(lib, dev)
        extra: dict[str, Any] = {"library": lib.path, "model": "SKF", "profile": self.profile.name}
        wanted = (self.key_id or (keys[0].key_id if keys else "")).split("/")[0]
        if wanted in pins:
            max_tries, left = pins[wanted]
            extra.update({"retries_left": left, "max_retries": max_tries, "locked": left == 0})
        return TokenInfo(
            token_id=self.token_id,
            label=cstr(bytes(dev_info.Label)) or self.device,
            kind="skf",
            serial=cstr(bytes(dev_info.SerialNumber)),
            manufacturer=cstr(bytes(dev_info.Manufacturer)),
            keys=keys,
            seals=seals,
            extra=extra,
        )

    def _pick(self, lib: SkfLibrary, dev: Any, key_id: str | None) -> tuple[str, str]:
        wanted = key_id or self.key_id
        if wanted:
            app_name, sep, con_name = wanted.partition("/")
            if not sep:
                raise SealBridgeError("KEY_NOT_FOUND", f"SKF key id {wanted!r} must be APPLICATION/CONTAINER")
            return app_name, con_name
        keys, _, _ = self._keys(lib, dev)
        sm2 = [k for k in keys if k.algorithm == "sm2"]
        if not sm2:
            raise SealBridgeError("KEY_NOT_FOUND", f"no SM2 container with a certificate on {self.device!r}")
        app_name, _, con_name = sm2[0].key_id.partition("/")
        return app_name, con_name

    def signer(self, pin: str | None, key_id: str | None = None) -> SkfSigner:
        """Verify the user PIN on the key's application and return a Signer for the container."""
        if not pin:
            raise SealBridgeError("PIN_INCORRECT", "no PIN given")
        lib = self.library
        with lib.lock:
            dev = HANDLE()
            lib.check("SKF_ConnectDev", encode_name(self.device), ctypes.byref(dev), what="SKF_ConnectDev")
            handles = _Handles(lib, dev)
            try:
                app_name, con_name = self._pick(lib, dev, key_id)
                lib.check("SKF_OpenApplication", dev, encode_name(app_name), ctypes.byref(handles.app))
                _, left = _pin_state(lib, handles.app)
                if left == 0:  # do not spend a try on a locked PIN
                    raise SealBridgeError("PIN_LOCKED", "SKF_GetPINInfo: no tries left", {"pin_locked": True})
                retry = ULONG(0)
                rv = lib.call(
                    "SKF_VerifyPIN", handles.app, USER_TYPE, pin.encode("utf-8"), ctypes.byref(retry)
                )
                if rv:
                    left_after = retry.value
                    if rv == SAR_CODES["SAR_PIN_INCORRECT"] and left_after == 0:
                        rv = SAR_CODES["SAR_PIN_LOCKED"]
                    raise sar_error(rv, "SKF_VerifyPIN", left_after if rv != SAR_CODES["SAR_OK"] else None)
                lib.check("SKF_OpenContainer", handles.app, encode_name(con_name), ctypes.byref(handles.con))
                ctype = ULONG(0)
                lib.check("SKF_GetContainerType", handles.con, ctypes.byref(ctype))
                if ctype.value != CONTAINER_ECC:
                    raise SealBridgeError(
                        "MECHANISM_UNSUPPORTED", f"container {con_name!r} is not an SM2 (ECC) container"
                    )
                cert = _certificate(lib, handles.con, self.profile)
                if cert is None:
                    raise SealBridgeError(
                        "KEY_NOT_FOUND", f"container {con_name!r} has no signing certificate"
                    )
                if _algorithm(cert) != "sm2":
                    raise SealBridgeError("MECHANISM_UNSUPPORTED", "the container's certificate is not SM2")
            except BaseException:
                handles.close()
                raise
        return SkfSigner(handles, cert, self.profile, f"{app_name}/{con_name}")

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        lib = self.library
        with lib.lock, _device(lib, self.device) as dev:
            app_name, _ = self._pick(lib, dev, None)
            with _opened(lib, "Application", dev, app_name) as app:
                _, left = _pin_state(lib, app)
                if left == 0:
                    raise SealBridgeError("PIN_LOCKED", "SKF_GetPINInfo: no tries left", {"pin_locked": True})
                retry = ULONG(0)
                rv = lib.call(
                    "SKF_ChangePIN", app, USER_TYPE, old_pin.encode(), new_pin.encode(), ctypes.byref(retry)
                )
                if rv:
                    raise sar_error(rv, "SKF_ChangePIN", retry.value)


class _Handles:
    """The open device, application (holding the login) and container of a signer."""

    def __init__(self, lib: SkfLibrary, dev: Any) -> None:
        self.lib = lib
        self.dev = dev
        self.app = HANDLE()
        self.con = HANDLE()
        self.closed = False

    def close(self) -> None:
        with self.lib.lock:
            if self.closed:
                return
            self.closed = True
            if self.con.value:
                self.lib.call("SKF_CloseContainer", self.con)
            if self.app.value:
                self.lib.call("SKF_ClearSecureState", self.app)
                self.lib.call("SKF_CloseApplication", self.app)
            self.lib.call("SKF_DisConnectDev", self.dev)


class SkfSigner:
    """Signs SM2 with the container while the login lasts; close() (or garbage collection) logs out."""

    algorithm = "sm2"

    def __init__(self, handles: _Handles, certificate: bytes, profile: SkfProfile, key_id: str) -> None:
        self._handles = handles
        self.certificate = certificate
        self.chain: list[bytes] = []
        self.profile = profile
        self.key_id = key_id
        spki = x509.Certificate.load(certificate)["tbs_certificate"]["subject_public_key_info"]
        point = bytes(spki["public_key"])
        self._xy = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:65], "big")

    def _e(self, data: bytes) -> bytes:
        if self.profile.digest == "host":
            return sm2_digest(*self._xy, data, self.profile.signer_id)
        lib, h = self._handles.lib, self._handles
        blob = EccPublicKeyBlob()
        blob.BitLen = 256
        blob.XCoordinate[32:64] = list(self._xy[0].to_bytes(32, "big"))
        blob.YCoordinate[32:64] = list(self._xy[1].to_bytes(32, "big"))
        uid = self.profile.signer_id
        hash_handle = HANDLE()
        lib.check(
            "SKF_DigestInit", h.dev, SGD_SM3, ctypes.byref(blob), uid, len(uid), ctypes.byref(hash_handle)
        )
        try:
            out = ctypes.create_string_buffer(64)
            out_len = ULONG(64)
            lib.check(
                "SKF_Digest", hash_handle, data, len(data), out, ctypes.byref(out_len), what="SKF_Digest"
            )
        finally:
            lib.call("SKF_CloseHandle", hash_handle)
        if out_len.value != 32:
            raise SealBridgeError("TOKEN_ERROR", f"SKF_Digest returned {out_len.value} bytes")
        return out.raw[:32]

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        h = self._handles
        with h.lib.lock:
            if h.closed:
                raise SealBridgeError("TOKEN_ABSENT", "the SKF signer was closed")
            e = self._e(data)
            sig = EccSignatureBlob()
            rv = h.lib.call("SKF_ECCSignData", h.con, e, 32, ctypes.byref(sig))
            if rv:
                raise sar_error(rv, "SKF_ECCSignData")
        raw = bytes(sig.r)[32:] + bytes(sig.s)[32:]
        if any(bytes(sig.r)[:32]) or any(bytes(sig.s)[:32]):
            raise SealBridgeError("TOKEN_ERROR", "ECCSIGNATUREBLOB: r or s longer than 256 bits")
        return raw_to_der(raw)

    def close(self) -> None:
        self._handles.close()

    def __del__(self) -> None:
        try:
            self._handles.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the library may be gone
            pass


# -- the registry's entry points ---------------------------------------------------------------------------
class SkfPresence(TokenPresence):
    @property
    def token_id(self) -> str:
        return f"skf:{self.label}"


def present_devices(modules: list[SkfModuleSpec]) -> list[tuple[SkfModuleConfig, SkfPresence]]:
    """Each device present in each library; a device that leaves while we look is skipped."""
    found = []
    for spec in modules:
        cfg = skf_config(spec)
        lib = get_library(cfg.path)
        with lib.lock:
            for name in lib.names("SKF_EnumDev", 1):
                try:
                    with _device(lib, name) as dev:
                        info = _dev_info(lib, dev)
                except SealBridgeError as err:
                    if err.code == "TOKEN_ABSENT":
                        continue
                    raise
                serial, maker = cstr(bytes(info.SerialNumber)), cstr(bytes(info.Manufacturer))
                found.append((cfg, SkfPresence(lib.path, 0, name, serial, maker, "SKF", 0)))
    return found


def list_tokens(modules: list[SkfModuleSpec]) -> list[SkfToken]:
    return [SkfToken(cfg, p.label) for cfg, p in present_devices(modules)]


def open_token(device: str, key_id: str | None, modules: list[SkfModuleSpec]) -> SkfToken:
    if not modules:
        raise SealBridgeError("TOKEN_NOT_FOUND", "no SKF library configured (skf_modules or --skf-module)")
    for cfg, presence in present_devices(modules):
        if presence.label == device:
            return SkfToken(cfg, device, key_id)
    raise SealBridgeError("TOKEN_ABSENT", f"no SKF device named {device!r} is present")
