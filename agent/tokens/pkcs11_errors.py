"""PKCS#11 return values → SealBridge error codes (the protocol's stable strings).

The CKR name always travels in `detail`, so a support person sees what the token said. The PIN retry hint
comes from the token flags, because PKCS#11 has no retry counter: CKF_USER_PIN_COUNT_LOW says "some wrong
tries already", CKF_USER_PIN_FINAL_TRY says "one try left", CKF_USER_PIN_LOCKED says "locked".
"""

from __future__ import annotations

import re
from typing import Any

from pkcs11 import exceptions as p11e
from pkcs11.constants import TokenFlag

from formats.errors import SealBridgeError

CKF_USER_PIN_COUNT_LOW = 0x00010000
CKF_USER_PIN_FINAL_TRY = 0x00020000
CKF_USER_PIN_LOCKED = 0x00040000
CKF_PROTECTED_AUTHENTICATION_PATH = int(TokenFlag.PROTECTED_AUTHENTICATION_PATH)

# python-pkcs11 raises one class per CKR value; the names below are the spec's where the class name differs.
_CKR_NAMES: dict[type[BaseException], str] = {
    p11e.TokenNotRecognised: "CKR_TOKEN_NOT_RECOGNIZED",
    p11e.FunctionCancelled: "CKR_FUNCTION_CANCELED",
    p11e.AnotherUserAlreadyLoggedIn: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    p11e.SlotIDInvalid: "CKR_SLOT_ID_INVALID",
    p11e.NoSuchToken: "token not found",
    p11e.NoSuchKey: "key not found",
    p11e.MultipleObjectsReturned: "several objects match",
    p11e.MultipleTokensReturned: "several tokens match",
}

# Errors meaning "the token (or its session) went away": after a removal the module answers with one of
# these, depending on the vendor and on whether the slot itself disappeared. SoftHSM2 answers
# CKR_OBJECT_HANDLE_INVALID for a key of a deleted token, CKR_GENERAL_ERROR for its token info, and
# CKR_SESSION_HANDLE_INVALID once the module was re-initialised.
ABSENCE_ERRORS: tuple[type[BaseException], ...] = (
    p11e.TokenNotPresent,
    p11e.DeviceRemoved,
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.SlotIDInvalid,
    p11e.TokenNotRecognised,
    p11e.NoSuchToken,
)


def ckr_name(exc: BaseException) -> str:
    """CKR_* name for a python-pkcs11 exception ("CKR_PIN_INCORRECT" for PinIncorrect)."""
    for cls in type(exc).__mro__:
        if cls in _CKR_NAMES:
            return _CKR_NAMES[cls]
    name = type(exc).__name__
    if not isinstance(exc, p11e.PKCS11Error) or name == "PKCS11Error":
        text = str(exc).strip()
        return f"{name}: {text}" if text else name
    return "CKR_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def pin_hint(flags: int | None) -> dict[str, Any]:
    """The retries hint for PIN_INCORRECT from the token flags read after the failed C_Login."""
    if flags is None:
        return {}
    hint: dict[str, Any] = {
        "pin_count_low": bool(flags & CKF_USER_PIN_COUNT_LOW),
        "pin_final_try": bool(flags & CKF_USER_PIN_FINAL_TRY),
    }
    if flags & CKF_USER_PIN_FINAL_TRY:
        hint["retries_left"] = 1
    return hint


def map_error(exc: BaseException, *, flags: int | None = None, what: str = "") -> SealBridgeError:
    """Translate a python-pkcs11 exception. `flags` are the token flags read after the failure (PIN hint)."""
    if isinstance(exc, SealBridgeError):
        return exc
    name = ckr_name(exc)
    detail = f"{what}: {name}" if what else name
    if isinstance(exc, p11e.PinIncorrect):
        if flags is not None and flags & CKF_USER_PIN_LOCKED:
            return SealBridgeError("PIN_LOCKED", detail, {"pin_locked": True})
        return SealBridgeError("PIN_INCORRECT", detail, pin_hint(flags) or None)
    if isinstance(exc, p11e.PinLocked):
        return SealBridgeError("PIN_LOCKED", detail, {"pin_locked": True})
    if isinstance(exc, (p11e.PinInvalid, p11e.PinLenRange, p11e.PinTooWeak)):
        return SealBridgeError("PIN_INVALID", detail)
    if isinstance(exc, ABSENCE_ERRORS):
        return SealBridgeError("TOKEN_ABSENT", detail)
    if isinstance(exc, (p11e.MechanismInvalid, p11e.MechanismParamInvalid, p11e.KeyTypeInconsistent)):
        return SealBridgeError("MECHANISM_UNSUPPORTED", detail)
    if isinstance(exc, p11e.NoSuchKey):
        return SealBridgeError("KEY_NOT_FOUND", detail)
    return SealBridgeError("TOKEN_ERROR", detail)
