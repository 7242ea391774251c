"""PKCS#11 tokens (USB keys, HSMs; SoftHSM2 in tests) behind agent.tokens.base.Token.

Modules come from the agent configuration or the CLI's --module, never from a request. A module entry is a
path, or a dict/ModuleConfig with the path and the SM2 profile to use for its SM2 keys (see profiles.py).
All calls may block: the agent runs them through agent.tokens.worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509
from pkcs11 import PROTECTED_AUTH, Attribute, CertificateType, ObjectClass
from pkcs11 import exceptions as p11e

from agent.tokens.base import KeyInfo, TokenInfo
from formats.errors import SealBridgeError
from formats.gm import is_sm2_spki

from .pkcs11_errors import CKF_PROTECTED_AUTHENTICATION_PATH, CKF_USER_PIN_LOCKED, map_error, pin_hint
from .pkcs11_module import Module, TokenPresence, get_module
from .pkcs11_sign import Pkcs11Signer
from .profiles import Sm2Profile, get_profile, load_profiles, match_profile

log = logging.getLogger(__name__)

SEAL_LABEL_PREFIX = "seal:"


@dataclass(frozen=True)
class ModuleConfig:
    path: str
    sm2_profile: str | None = None  # profile name; None = pick by the token's mechanism list
    profiles_file: str | None = None  # extra profiles (JSON, same shape as sm2_profiles.json)


ModuleSpec = str | os.PathLike[str] | dict[str, Any] | ModuleConfig


def module_config(spec: ModuleSpec) -> ModuleConfig:
    if isinstance(spec, ModuleConfig):
        return spec
    if isinstance(spec, dict):
        if not isinstance(spec.get("path"), str):
            raise SealBridgeError("BAD_REQUEST", "a PKCS#11 module entry needs a 'path'")
        return ModuleConfig(spec["path"], spec.get("sm2_profile"), spec.get("profiles_file"))
    return ModuleConfig(os.fspath(spec))


def _algorithm_of(cert_der: bytes) -> str:
    try:
        spki = x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
        if is_sm2_spki(spki):
            return "sm2"
        name = spki["algorithm"]["algorithm"].native
    except ValueError as exc:
        raise SealBridgeError("CERT_INVALID", f"certificate on the token: {exc}") from None
    if name in ("rsa", "rsassa_pss"):
        return "rsa"
    if name == "ec":
        return "ecdsa"
    return name


def _parse_key_id(key_id: str | bytes | None) -> bytes | None:
    if key_id is None or isinstance(key_id, bytes):
        return key_id
    try:
        return bytes.fromhex(key_id)
    except ValueError:
        raise SealBridgeError("KEY_NOT_FOUND", f"key id {key_id!r} is not hex (CKA_ID)") from None


def _attr(obj: Any, attribute: Attribute, default: Any = None) -> Any:
    try:
        return obj[attribute]
    except (p11e.PKCS11Error, KeyError, ValueError):
        return default


@dataclass
class _Contents:
    keys: list[KeyInfo]
    seals: list[tuple[str, bytes]]  # (CKA_LABEL, DER)


class Pkcs11Token:
    """One token of one module, addressed by label (slot ids change across re-initialisations)."""

    kind = "pkcs11"

    def __init__(self, module: ModuleSpec, label: str, key_id: str | None = None) -> None:
        self.config = module_config(module)
        self.module: Module = get_module(self.config.path)
        self.label = label
        self.key_id = key_id
        self.token_id = f"pkcs11:{label}"

    # -- reading (no PIN) ---------------------------------------------------------------------------------
    def info(self) -> TokenInfo:
        with self.module.lock:
            tok = self.module.find_token(self.label)
            try:
                session = tok.open()
            except p11e.PKCS11Error as exc:
                raise map_error(exc, what="C_OpenSession") from None
            try:
                contents = self._read_contents(session)
            except p11e.PKCS11Error as exc:
                raise map_error(exc, what="reading objects") from None
            finally:
                _close_quietly(session)
            flags = int(tok.flags)
            return TokenInfo(
                token_id=self.token_id,
                label=tok.label,
                kind="pkcs11",
                serial=_text(tok.serial),
                manufacturer=tok.manufacturer_id.strip(),
                pin_pad=bool(flags & CKF_PROTECTED_AUTHENTICATION_PATH),
                keys=contents.keys,
                seals=[der for _, der in contents.seals],
                extra={
                    "module": self.module.path,
                    "model": tok.model.strip(),
                    "slot_id": int(tok.slot.slot_id),
                    "flags": flags,
                    "pin_locked": bool(flags & CKF_USER_PIN_LOCKED),
                    **pin_hint(flags),
                    "seal_labels": [label for label, _ in contents.seals],
                },
            )

    def _read_contents(self, session: Any, with_seals: bool = True) -> _Contents:
        certs: list[tuple[bytes, str, bytes]] = []  # (CKA_ID, CKA_LABEL, DER)
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            if _attr(obj, Attribute.CERTIFICATE_TYPE, CertificateType.X_509) != CertificateType.X_509:
                continue
            value = _attr(obj, Attribute.VALUE)
            if value:
                certs.append(
                    (
                        bytes(_attr(obj, Attribute.ID, b"") or b""),
                        _attr(obj, Attribute.LABEL, "") or "",
                        value,
                    )
                )
        key_ids: set[bytes] = set()
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
            for obj in session.get_objects({Attribute.CLASS: cls}):
                kid = _attr(obj, Attribute.ID)
                if kid:
                    key_ids.add(bytes(kid))
        seals: list[tuple[str, bytes]] = []
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.DATA}) if with_seals else ():
            label = _attr(obj, Attribute.LABEL, "") or ""
            if label.startswith(SEAL_LABEL_PREFIX):
                value = _attr(obj, Attribute.VALUE)  # a private data object is unreadable without login
                if value:
                    seals.append((label, bytes(value)))
        all_der = [der for _, _, der in certs]
        keys: list[KeyInfo] = []
        for cid, label, der in certs:
            # Private keys are usually CKA_PRIVATE and invisible before login; a certificate with a CKA_ID is
            # then taken as the key's certificate (the convention every PKCS#11 tool follows).
            if not cid or (key_ids and cid not in key_ids):
                continue
            keys.append(KeyInfo(cid.hex(), label, _algorithm_of(der), der, _chain_for(der, all_der)))
        return _Contents(keys, seals)

    # -- signing ------------------------------------------------------------------------------------------
    def signer(self, pin: str | None, key_id: str | None = None, *, rsa_pss: bool = False) -> Pkcs11Signer:
        """Log in with `pin` (None or "" on a PIN-pad token: the PIN is entered on the device) and return a
        Signer for `key_id` (hex CKA_ID), this token's key id, or the first certificate/key pair."""
        module = self.module
        with module.lock:
            tok = module.find_token(self.label)
            flags = int(tok.flags)
            if flags & CKF_USER_PIN_LOCKED:
                # Do not spend a try on a token that reports its PIN locked.
                raise SealBridgeError("PIN_LOCKED", "CKF_USER_PIN_LOCKED", {"pin_locked": True})
            user_pin: Any = pin
            if not pin:
                if not flags & CKF_PROTECTED_AUTHENTICATION_PATH:
                    raise SealBridgeError("PIN_INCORRECT", "no PIN given", pin_hint(flags) or None)
                user_pin = PROTECTED_AUTH
            serial = _text(tok.serial)
            entry = module.current_login(self.label)
            if entry is not None:
                # Log out first: while logged in, C_Login would accept any PIN (CKR_USER_ALREADY_LOGGED_IN).
                try:
                    entry.session.close()
                except p11e.PKCS11Error:
                    pass
            try:
                session = tok.open(user_pin=user_pin)
            except p11e.PKCS11Error as exc:
                module.forget(self.label)
                raise map_error(exc, flags=module.token_flags(self.label), what="C_Login") from None
            if entry is not None and entry.serial == serial and entry.generation == module.generation:
                entry.session = session  # signers made earlier keep working under the renewed login
            else:
                entry = module.login(self.label, serial, session)
            try:
                return self._make_signer(entry, _parse_key_id(key_id or self.key_id), rsa_pss, tok)
            except BaseException:
                if not len(entry.signers):
                    module.logout(self.label)
                raise

    def _make_signer(self, entry: Any, key_id: bytes | None, rsa_pss: bool, tok: Any) -> Pkcs11Signer:
        try:
            contents = self._read_contents(entry.session, with_seals=False)
            private_ids = {
                bytes(_attr(o, Attribute.ID) or b"")
                for o in entry.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            }
        except p11e.PKCS11Error as exc:
            raise map_error(exc, what="reading objects") from None
        candidates = [k for k in contents.keys if bytes.fromhex(k.key_id) in private_ids]
        if key_id is not None:
            candidates = [k for k in candidates if bytes.fromhex(k.key_id) == key_id]
        if not candidates:
            wanted = f" with CKA_ID {key_id.hex()}" if key_id is not None else ""
            raise SealBridgeError(
                "KEY_NOT_FOUND", f"no certificate + private key pair{wanted} on {self.label!r}"
            )
        key = candidates[0]
        profile = self._sm2_profile(tok) if key.algorithm == "sm2" else None
        return Pkcs11Signer(
            self.module,
            self.label,
            entry,
            bytes.fromhex(key.key_id),
            key.certificate,
            key.chain,
            key.algorithm,
            rsa_pss=rsa_pss,
            sm2_profile=profile,
        )

    def _sm2_profile(self, tok: Any) -> Sm2Profile:
        if self.config.sm2_profile:
            return get_profile(self.config.sm2_profile, self.config.profiles_file)
        try:
            mechanisms = {int(m) for m in tok.slot.get_mechanisms()}
        except (p11e.PKCS11Error, ValueError) as exc:
            raise SealBridgeError("MECHANISM_UNSUPPORTED", f"C_GetMechanismList: {exc!r}") from None
        profile = match_profile(mechanisms, load_profiles(self.config.profiles_file))
        if profile is None:
            raise SealBridgeError(
                "MECHANISM_UNSUPPORTED",
                "the token lists no known SM2 signing mechanism; set sm2_profile for this module",
            )
        return profile

    # -- PIN ----------------------------------------------------------------------------------------------
    def change_pin(self, old_pin: str, new_pin: str) -> None:
        module = self.module
        with module.lock:
            tok = module.find_token(self.label)
            if int(tok.flags) & CKF_USER_PIN_LOCKED:
                raise SealBridgeError("PIN_LOCKED", "CKF_USER_PIN_LOCKED", {"pin_locked": True})
            module.logout(self.label)
            try:
                session = tok.open(rw=True, user_pin=old_pin)
            except p11e.PKCS11Error as exc:
                raise map_error(exc, flags=module.token_flags(self.label), what="C_Login") from None
            try:
                session.set_pin(old_pin, new_pin)
            except p11e.PKCS11Error as exc:
                raise map_error(exc, flags=module.token_flags(self.label), what="C_SetPIN") from None
            finally:
                _close_quietly(session)

    # -- seals ------------------------------------------------------------------------------------------
    def store_seal(self, pin: str, seal_der: bytes, esid: str) -> None:
        """Write a seal as a public CKO_DATA object `seal:<esID>` (replacing one of that label).

        pkcs11-tool cannot do this: it cuts objects at 5000 bytes, and a seal with its picture is ~100 KB."""
        if not esid or len(esid) > 64:
            raise SealBridgeError("BAD_REQUEST", "the seal's esID must be 1..64 characters")
        module = self.module
        label = SEAL_LABEL_PREFIX + esid
        with module.lock:
            tok = module.find_token(self.label)
            module.logout(self.label)
            try:
                session = tok.open(rw=True, user_pin=pin)
            except p11e.PKCS11Error as exc:
                raise map_error(exc, flags=module.token_flags(self.label), what="C_Login") from None
            try:
                for old in list(
                    session.get_objects({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: label})
                ):
                    old.destroy()
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.DATA,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,  # readable without a PIN, like the certificate
                        Attribute.MODIFIABLE: True,
                        Attribute.LABEL: label,
                        Attribute.APPLICATION: "SealBridge",
                        Attribute.VALUE: seal_der,
                    }
                )
            except p11e.PKCS11Error as exc:
                raise map_error(exc, what="C_CreateObject") from None
            finally:
                _close_quietly(session)


def _chain_for(cert_der: bytes, pool: list[bytes]) -> list[bytes]:
    """Issuers of `cert_der` found among the token's certificates, nearest first."""
    by_subject: dict[bytes, bytes] = {}
    for der in pool:
        try:
            by_subject.setdefault(x509.Certificate.load(der).subject.dump(), der)
        except ValueError:
            continue
    chain: list[bytes] = []
    current = x509.Certificate.load(cert_der)
    while len(chain) < 8 and current.issuer.dump() != current.subject.dump():
        issuer = by_subject.get(current.issuer.dump())
        if issuer is None or issuer in chain or issuer == cert_der:
            break
        chain.append(issuer)
        current = x509.Certificate.load(issuer)
    return chain


def _text(value: bytes | str) -> str:
    return (value.decode("ascii", "replace") if isinstance(value, bytes) else value).strip()


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except p11e.PKCS11Error as exc:
        log.debug("closing a session: %s", type(exc).__name__)


# -- the registry's entry points ----------------------------------------------------------------------------
def present_tokens(modules: list[ModuleSpec]) -> list[tuple[ModuleConfig, TokenPresence]]:
    found = []
    for spec in modules:
        cfg = module_config(spec)
        for presence in get_module(cfg.path).present_tokens():
            found.append((cfg, presence))
    return found


def list_tokens(modules: list[ModuleSpec]) -> list[Pkcs11Token]:
    """A Token for every token present in the configured modules (call .info() for certificates and seals;
    no PIN needed). A token pulled out in between answers TOKEN_ABSENT from info()."""
    return [Pkcs11Token(cfg, presence.label) for cfg, presence in present_tokens(modules)]


def token_infos(modules: list[ModuleSpec]) -> list[TokenInfo]:
    """info() of every present token, skipping those removed while listing."""
    infos = []
    for token in list_tokens(modules):
        try:
            infos.append(token.info())
        except SealBridgeError as err:
            if err.code != "TOKEN_ABSENT":
                raise
    return infos


def open_token(label: str, key_id: str | None, modules: list[ModuleSpec]) -> Pkcs11Token:
    """The token labelled `label` in the first module that has it; TOKEN_ABSENT when none does.

    A module may not have seen a token inserted since its last C_Initialize (SoftHSM2 never does; some vendor
    modules neither): when the label is missing, idle modules are re-initialised once and asked again."""
    for attempt in range(2):
        for cfg, presence in present_tokens(modules):
            if presence.label == label:
                return Pkcs11Token(cfg, label, key_id)
        if attempt == 0 and not any([get_module(module_config(m).path).refresh_if_idle() for m in modules]):
            break
    raise SealBridgeError("TOKEN_ABSENT", f"no PKCS#11 token labelled {label!r} is present")
