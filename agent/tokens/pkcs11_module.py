"""One loaded PKCS#11 module: its lock, its (re-)initialisation, its tokens and their login sessions.

A PKCS#11 library is one C_Initialize per process, shared by every token it serves. Three facts shape this:

* python-pkcs11 calls C_Initialize(NULL), i.e. without asking the module for thread locking, so every call
  into one module is serialised by `Module.lock` (tokens of *different* modules still run in parallel).
* The login state belongs to the (application, token) pair, not to a session: while any session is logged in,
  C_Login answers CKR_USER_ALREADY_LOGGED_IN *without checking the PIN*. So each token has at most one login
  session here (`TokenLogin`); asking for a signer logs out first and logs in with the PIN just given, so
  every stamp proves the PIN again.
* C_Finalize/C_Initialize (re-initialisation) invalidates every session of every token of the module, and
  session handles may be re-used by the fresh library. `generation` counts re-initialisations; a session of an
  older generation is never used again (a stale handle could otherwise reach another token's new session).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11e

from formats.errors import SealBridgeError

from .pkcs11_errors import map_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPresence:
    """What C_GetTokenInfo said about a present token, in one poll."""

    module: str
    slot_id: int
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: int

    @property
    def token_id(self) -> str:
        return f"pkcs11:{self.label}"


@dataclass
class TokenLogin:
    """The logged-in session of one token, shared by every signer made from it."""

    serial: str
    session: Any  # pkcs11.Session
    generation: int
    signers: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)


class Module:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.generation = 0
        self._lib: Any = None
        self._logins: dict[str, TokenLogin] = {}  # token label -> login

    # -- library ------------------------------------------------------------------------------------------
    def lib(self) -> Any:
        with self.lock:
            if self._lib is None:
                if not os.path.isfile(self.path):
                    raise SealBridgeError("TOKEN_ERROR", f"PKCS#11 module not found: {self.path}")
                try:
                    self._lib = pkcs11.lib(self.path)
                except p11e.PKCS11Error as exc:
                    raise SealBridgeError(
                        "TOKEN_ERROR", f"cannot load PKCS#11 module {self.path}: {exc}"
                    ) from None
                if not self._lib.initialized:
                    self._lib.initialize()
            return self._lib

    def reinitialize(self) -> None:
        """C_Finalize + C_Initialize: forget every session, see tokens created/inserted since the last init."""
        with self.lock:
            lib = self.lib()
            self._logins.clear()  # their handles die with C_Finalize; never close them afterwards
            self.generation += 1
            try:
                lib.reinitialize()
            except p11e.PKCS11Error as exc:
                raise map_error(exc, what=f"re-initialising {self.path}") from None

    def idle(self) -> bool:
        """True when no signer holds a login, so a re-initialisation breaks nothing."""
        with self.lock:
            self._drop_unused_logins()
            return not self._logins

    # -- tokens -------------------------------------------------------------------------------------------
    def present_tokens(self) -> list[TokenPresence]:
        """Tokens present now. A slot whose token info fails (SoftHSM2 answers CKR_GENERAL_ERROR for a deleted
        token, a reader CKR_TOKEN_NOT_PRESENT) counts as empty."""
        with self.lock:
            lib = self.lib()
            try:
                slots = lib.get_slots(token_present=True)
            except p11e.PKCS11Error as exc:
                raise map_error(exc, what="C_GetSlotList") from None
            found: list[TokenPresence] = []
            for slot in slots:
                try:
                    tok = slot.get_token()
                except p11e.PKCS11Error as exc:
                    log.debug("slot %s of %s: %s", slot.slot_id, self.path, type(exc).__name__)
                    continue
                flags = int(tok.flags)
                if not flags & int(pkcs11.TokenFlag.TOKEN_INITIALIZED):
                    log.debug("slot %s of %s: token %r not initialised", slot.slot_id, self.path, tok.label)
                    continue  # SoftHSM2's spare empty slot, or a blank card
                found.append(
                    TokenPresence(
                        module=self.path,
                        slot_id=int(slot.slot_id),
                        label=tok.label,
                        serial=_serial_text(tok.serial),
                        manufacturer=tok.manufacturer_id.strip(),
                        model=tok.model.strip(),
                        flags=flags,
                    )
                )
            return found

    def refresh_if_idle(self) -> bool:
        """Re-initialise when nothing would break (no login): the cure for a stale module that has not seen a
        token inserted (or re-created) since its last C_Initialize. True when it did."""
        with self.lock:
            if not self.idle():
                return False
            self.reinitialize()
            return True

    def find_token(self, label: str) -> Any:
        """The python-pkcs11 Token with this label, in the current generation; TOKEN_ABSENT when none
        (after one re-initialisation, if the module is idle)."""
        with self.lock:
            matches = self._tokens_labelled(label)
            if not matches and self.refresh_if_idle():
                matches = self._tokens_labelled(label)
            if not matches:
                raise SealBridgeError("TOKEN_ABSENT", f"no token labelled {label!r} in {self.path}")
            if len(matches) > 1:
                raise SealBridgeError(
                    "TOKEN_ERROR", f"{len(matches)} tokens labelled {label!r} in {self.path}"
                )
            return matches[0]

    def _tokens_labelled(self, label: str) -> list[Any]:
        try:
            slots = self.lib().get_slots(token_present=True)
        except p11e.PKCS11Error as exc:
            raise map_error(exc, what="C_GetSlotList") from None
        matches = []
        for slot in slots:
            try:
                tok = slot.get_token()
            except p11e.PKCS11Error:
                continue
            if tok.label == label:
                matches.append(tok)
        return matches

    def token_flags(self, label: str) -> int | None:
        with self.lock:
            try:
                return int(self.find_token(label).flags)
            except (SealBridgeError, p11e.PKCS11Error):
                return None

    # -- logins -------------------------------------------------------------------------------------------
    def login(self, label: str, serial: str, session: Any) -> TokenLogin:
        with self.lock:
            entry = TokenLogin(serial=serial, session=session, generation=self.generation)
            self._logins[label] = entry
            return entry

    def current_login(self, label: str) -> TokenLogin | None:
        with self.lock:
            entry = self._logins.get(label)
            if entry is not None and entry.generation != self.generation:
                del self._logins[label]
                return None
            return entry

    def logout(self, label: str) -> None:
        """Close the token's login session (C_Logout + C_CloseSession); errors of a vanished token are moot."""
        with self.lock:
            entry = self._logins.pop(label, None)
            if entry is None or entry.generation != self.generation:
                return
            try:
                entry.session.close()
            except p11e.PKCS11Error as exc:
                log.debug("closing the session of %s: %s", label, type(exc).__name__)

    def forget(self, label: str) -> None:
        """Drop the token's login without touching the module (the token is gone)."""
        with self.lock:
            self._logins.pop(label, None)

    def forget_absent(self, present_labels: set[str]) -> None:
        """Drop the logins of tokens that are no longer present (their signers then answer TOKEN_ABSENT)."""
        with self.lock:
            for label in list(self._logins):
                if label not in present_labels:
                    self.forget(label)

    def _drop_unused_logins(self) -> None:
        # A login nobody can use any more (all its signers were garbage-collected or closed) is logged out, so
        # the PIN is not left "open" on the token and the module can be re-initialised for hot-plug.
        for label, entry in list(self._logins.items()):
            if entry.generation != self.generation:
                del self._logins[label]
            elif not len(entry.signers):
                self.logout(label)


def _serial_text(serial: bytes | str) -> str:
    if isinstance(serial, bytes):
        serial = serial.decode("ascii", "replace")
    return serial.strip()


_modules: dict[str, Module] = {}
_modules_lock = threading.Lock()


def get_module(path: str | os.PathLike[str]) -> Module:
    """The process-wide Module for a library path (one C_Initialize per process and library)."""
    key = os.path.realpath(os.fspath(path))
    with _modules_lock:
        module = _modules.get(key)
        if module is None:
            module = _modules[key] = Module(key)
        return module
