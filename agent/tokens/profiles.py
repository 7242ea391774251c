"""Vendor SM2 mechanism profiles for PKCS#11 modules, kept as data (sm2_profiles.json).

PKCS#11 has no standard SM2 mechanism: each vendor picks its own CKK/CKM numbers and decides whether the
token computes Z and e = SM3(Z‖M) itself (taking the signer ID as mechanism parameter, or implying the default
ID) or signs a host-computed 32-byte e with a "raw" mechanism, and whether it returns raw r‖s or DER.
A profile records those choices. The built-in list comes from research/standards.md §7.3; a deployment can add
its own profiles from a JSON file with the same shape (agent config), without code changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pkcs11 import KeyType, Mechanism

from formats.errors import SealBridgeError

E = TypeVar("E", bound=IntEnum)


def enum_member(enum_cls: type[E], value: int, name: str) -> E:
    """Return the member of `enum_cls` for `value`, creating a pseudo-member for a vendor value.

    python-pkcs11 only accepts `Mechanism` members as mechanisms (plain ints raise ArgumentsBad) and converts
    CKA_KEY_TYPE through `KeyType`, so a vendor CKK/CKM must become a member of those enums. Registering it in
    `_value2member_map_` makes `Mechanism(value)` and attribute unpacking find it too.
    """
    try:
        return enum_cls(value)
    except ValueError:
        pass
    member = int.__new__(enum_cls, value)
    member._name_ = name
    member._value_ = value
    enum_cls._value2member_map_[value] = member
    return member


@dataclass(frozen=True)
class Sm2Profile:
    name: str
    vendor: str
    ckk: int  # CKA_KEY_TYPE of the vendor's SM2 keys
    sign_mechanism: int
    z_on_token: bool  # True: token hashes SM3(Z‖M); False: host computes e and the mechanism signs e
    id_param: bool  # with z_on_token: pass the signer ID (1234567812345678) as mechanism parameter
    output: str  # "raw" (r‖s, 64 bytes) or "der"

    @property
    def mechanism(self) -> Mechanism:
        return enum_member(Mechanism, self.sign_mechanism, f"VENDOR_SM2_{self.sign_mechanism:#x}")

    @property
    def key_type(self) -> KeyType:
        return enum_member(KeyType, self.ckk, f"VENDOR_SM2_{self.ckk:#x}")

    def register(self) -> None:
        """Make python-pkcs11 accept this profile's CKK and CKM values."""
        _ = self.mechanism, self.key_type

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vendor": self.vendor,
            "ckk": f"{self.ckk:#010x}",
            "sign_mechanism": f"{self.sign_mechanism:#010x}",
            "z_on_token": self.z_on_token,
            "id_param": self.id_param,
            "output": self.output,
        }


def _int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise SealBridgeError("BAD_REQUEST", f"SM2 profile: {what} must be an integer or a 0x… string")


def profile_from_dict(raw: dict[str, Any]) -> Sm2Profile:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SealBridgeError("BAD_REQUEST", "SM2 profile: an object with a non-empty 'name' is required")
    output = raw.get("output", "raw")
    if output not in ("raw", "der"):
        raise SealBridgeError("BAD_REQUEST", f"SM2 profile {raw['name']}: output must be 'raw' or 'der'")
    z_on_token = raw.get("z_on_token", True)
    id_param = raw.get("id_param", False)
    if not isinstance(z_on_token, bool) or not isinstance(id_param, bool):
        raise SealBridgeError(
            "BAD_REQUEST", f"SM2 profile {raw['name']}: z_on_token/id_param must be booleans"
        )
    return Sm2Profile(
        name=raw["name"],
        vendor=str(raw.get("vendor", "")),
        ckk=_int(raw.get("ckk"), "ckk"),
        sign_mechanism=_int(raw.get("sign_mechanism"), "sign_mechanism"),
        z_on_token=z_on_token,
        id_param=id_param and z_on_token,
        output=output,
    )


def _load_json(text: str, source: str) -> list[Sm2Profile]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SealBridgeError("BAD_REQUEST", f"SM2 profiles in {source}: {exc}") from None
    items = data.get("profiles") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise SealBridgeError("BAD_REQUEST", f"SM2 profiles in {source}: expected a list of profiles")
    return [profile_from_dict(item) for item in items]


def builtin_profiles() -> list[Sm2Profile]:
    text = resources.files("agent.tokens").joinpath("sm2_profiles.json").read_text(encoding="utf-8")
    return _load_json(text, "sm2_profiles.json")


def load_profiles(extra_file: str | Path | None = None) -> dict[str, Sm2Profile]:
    """Built-in profiles, then those of `extra_file` (same JSON shape; a same name overrides)."""
    profiles = {p.name: p for p in builtin_profiles()}
    if extra_file is not None:
        try:
            text = Path(extra_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SealBridgeError(
                "BAD_REQUEST", f"cannot read SM2 profiles {extra_file}: {exc.strerror}"
            ) from None
        profiles.update({p.name: p for p in _load_json(text, str(extra_file))})
    return profiles


def get_profile(name: str, extra_file: str | Path | None = None) -> Sm2Profile:
    profiles = load_profiles(extra_file)
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(sorted(profiles))
        raise SealBridgeError(
            "MECHANISM_UNSUPPORTED", f"unknown SM2 profile {name!r} (known: {known})"
        ) from None


def match_profile(mechanisms: set[int], profiles: dict[str, Sm2Profile] | None = None) -> Sm2Profile | None:
    """The first profile whose sign mechanism the token lists in C_GetMechanismList, or None.

    Profiles that let the token compute Z come first: they need no public key on the host."""
    candidates = list((profiles or load_profiles()).values())
    candidates.sort(key=lambda p: (not p.z_on_token, p.output != "der"))
    for profile in candidates:
        if profile.sign_mechanism in mechanisms:
            return profile
    return None
