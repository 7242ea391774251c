"""ctypes binding of a vendor's GM/T 0016 (SKF) library: the structures, the SAR codes, the functions we call.

A library is loaded from a path the administrator configured (`skf_modules`, `--skf-module`), never from a
request. Linux libraries use cdecl; Windows DLLs use stdcall (WinDLL). ULONG is 32-bit everywhere; BOOL is
32-bit in the standard but `long` in some Linux vendor headers, so BOOL arguments are passed as 32-bit values
(what both read correctly in a register) and BOOL outputs get an 8-byte buffer. Every call returns a SAR code;
`check()` turns a non-zero one into a SealBridgeError naming the SAR (agent.tokens.skf_errors).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import POINTER, byref, c_char_p, c_int32, c_uint32, c_void_p
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError

from .skf_errors import sar_error

ULONG = c_uint32
BOOL = c_int32
HANDLE = c_void_p
USER_TYPE = 1
SGD_SM3 = 0x00000001
CONTAINER_RSA = 1
CONTAINER_ECC = 2
MAX_LIST = 64 * 1024  # bound for multi-string lists (device, application, container and file names)
MAX_CERT = 64 * 1024
MAX_FILE = 4 * 1024 * 1024  # bound for SKF_ReadFile (a seal with its picture is ~100 KB)


class Version(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class DevInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("Version", Version),
        ("Manufacturer", ctypes.c_char * 64),
        ("Issuer", ctypes.c_char * 64),
        ("Label", ctypes.c_char * 32),
        ("SerialNumber", ctypes.c_char * 32),
        ("HWVersion", Version),
        ("FirmwareVersion", Version),
        ("AlgSymCap", ULONG),
        ("AlgAsymCap", ULONG),
        ("AlgHashCap", ULONG),
        ("DevAuthAlgId", ULONG),
        ("TotalSpace", ULONG),
        ("FreeSpace", ULONG),
        ("MaxECCBufferSize", ULONG),
        ("MaxBufferSize", ULONG),
        ("Reserved", ctypes.c_ubyte * 64),
    ]


class EccPublicKeyBlob(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("BitLen", ULONG), ("XCoordinate", ctypes.c_ubyte * 64), ("YCoordinate", ctypes.c_ubyte * 64)]


class EccSignatureBlob(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("r", ctypes.c_ubyte * 64), ("s", ctypes.c_ubyte * 64)]


_P = POINTER
# name -> argument types; every function returns ULONG (a SAR code).
PROTOTYPES: dict[str, list[Any]] = {
    "SKF_EnumDev": [BOOL, c_char_p, _P(ULONG)],
    "SKF_ConnectDev": [c_char_p, _P(HANDLE)],
    "SKF_DisConnectDev": [HANDLE],
    "SKF_GetDevInfo": [HANDLE, _P(DevInfo)],
    "SKF_EnumApplication": [HANDLE, c_char_p, _P(ULONG)],
    "SKF_OpenApplication": [HANDLE, c_char_p, _P(HANDLE)],
    "SKF_CloseApplication": [HANDLE],
    "SKF_GetPINInfo": [HANDLE, ULONG, _P(ULONG), _P(ULONG), c_void_p],
    "SKF_VerifyPIN": [HANDLE, ULONG, c_char_p, _P(ULONG)],
    "SKF_ChangePIN": [HANDLE, ULONG, c_char_p, c_char_p, _P(ULONG)],
    "SKF_ClearSecureState": [HANDLE],
    "SKF_EnumContainer": [HANDLE, c_char_p, _P(ULONG)],
    "SKF_OpenContainer": [HANDLE, c_char_p, _P(HANDLE)],
    "SKF_CloseContainer": [HANDLE],
    "SKF_GetContainerType": [HANDLE, _P(ULONG)],
    "SKF_ExportCertificate": [HANDLE, BOOL, c_void_p, _P(ULONG)],
    "SKF_ExportPublicKey": [HANDLE, BOOL, c_void_p, _P(ULONG)],
    "SKF_ECCSignData": [HANDLE, c_char_p, ULONG, _P(EccSignatureBlob)],
    "SKF_DigestInit": [HANDLE, ULONG, _P(EccPublicKeyBlob), c_char_p, ULONG, _P(HANDLE)],
    "SKF_Digest": [HANDLE, c_char_p, ULONG, c_void_p, _P(ULONG)],
    "SKF_CloseHandle": [HANDLE],
    # optional: present in most libraries, used when there
    "SKF_EnumFiles": [HANDLE, c_char_p, _P(ULONG)],
    "SKF_ReadFile": [HANDLE, c_char_p, ULONG, ULONG, c_void_p, _P(ULONG)],
    "SKF_GetDevState": [c_char_p, _P(ULONG)],
}
REQUIRED = [name for name in PROTOTYPES if name not in ("SKF_EnumFiles", "SKF_ReadFile", "SKF_GetDevState")]


class SkfLibrary:
    """One loaded SKF library. Calls are serialised by `lock` (vendor libraries are rarely thread-safe)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        if not Path(path).is_file():
            raise SealBridgeError("TOKEN_LIBRARY_INVALID", f"SKF library {path} does not exist")
        loader = ctypes.WinDLL if sys.platform == "win32" else ctypes.CDLL  # type: ignore[attr-defined]
        try:
            self._lib = loader(os.fspath(path))
        except OSError as exc:
            raise SealBridgeError("TOKEN_LIBRARY_INVALID", f"cannot load SKF library {path}: {exc}") from None
        missing = [name for name in REQUIRED if not hasattr(self._lib, name)]
        if missing:
            raise SealBridgeError(
                "TOKEN_LIBRARY_INVALID",
                f"{path} is not a usable SKF library: missing {', '.join(missing[:6])}"
                + (" …" if len(missing) > 6 else ""),
                {"missing_functions": missing},
            )
        self._funcs: dict[str, Any] = {}
        for name, argtypes in PROTOTYPES.items():
            func = getattr(self._lib, name, None)
            if func is None:
                continue
            func.argtypes = argtypes
            func.restype = ULONG
            self._funcs[name] = func

    def has(self, name: str) -> bool:
        return name in self._funcs

    def call(self, name: str, *args: Any) -> int:
        """The raw SAR code of one call."""
        return int(self._funcs[name](*args))

    def check(self, name: str, *args: Any, what: str = "") -> None:
        rv = self.call(name, *args)
        if rv:
            raise sar_error(rv, what or name)

    # -- helpers for the two-call "size, then data" pattern ------------------------------------------------
    def names(self, name: str, *head: Any) -> list[str]:
        """A multi-string list (device, application, container or file names)."""
        return split_multi_string(self.blob(name, *head, limit=MAX_LIST))

    def blob(self, name: str, *head: Any, limit: int = MAX_CERT) -> bytes:
        size = ULONG(0)
        self.check(name, *head, None, byref(size))
        if size.value > limit:
            raise SealBridgeError("TOKEN_ERROR", f"{name}: {size.value} bytes exceed the limit")
        buf = ctypes.create_string_buffer(max(size.value, 2))  # an empty multi-string is "\0\0"
        size = ULONG(len(buf))
        self.check(name, *head, buf, byref(size))
        return buf.raw[: size.value]


def split_multi_string(raw: bytes) -> list[str]:
    """ "a\\0b\\0\\0" → ["a", "b"]. Names are decoded as UTF-8, falling back to GBK (Chinese vendor libraries)."""
    out = []
    for part in raw.split(b"\0"):
        if not part:
            break
        try:
            out.append(part.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(part.decode("gbk", "replace"))
    return out


def encode_name(name: str) -> bytes:
    return name.encode("utf-8")


def cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


_libraries: dict[str, SkfLibrary] = {}
_libraries_lock = threading.Lock()


def get_library(path: str | os.PathLike[str]) -> SkfLibrary:
    """The process-wide SkfLibrary for `path` (a library is loaded once; loading is not undone)."""
    key = os.path.abspath(os.fspath(path))
    with _libraries_lock:
        lib = _libraries.get(key)
        if lib is None:
            lib = _libraries[key] = SkfLibrary(key)
        return lib


__all__ = [
    "CONTAINER_ECC",
    "CONTAINER_RSA",
    "DevInfo",
    "EccPublicKeyBlob",
    "EccSignatureBlob",
    "HANDLE",
    "SGD_SM3",
    "SkfLibrary",
    "ULONG",
    "USER_TYPE",
    "byref",
    "get_library",
]
