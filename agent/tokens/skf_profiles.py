"""Vendor quirks of SKF libraries, kept as data (skf_profiles.json), chosen by library file name or by config."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError


@dataclass(frozen=True)
class SkfProfile:
    name: str
    library: str  # glob on the library file name; "" = only when named in the config
    signer_id: bytes
    digest: str  # "host" | "key"
    cert_encoding: str  # "auto" (DER, or PEM from quirky libraries) | "der"
    rsa_containers: str  # "list" | "hide"


def _profile(raw: Any) -> SkfProfile:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SealBridgeError("BAD_REQUEST", "SKF profile: an object with a non-empty 'name' is required")
    name = raw["name"]
    digest = raw.get("digest", "host")
    cert = raw.get("cert_encoding", "auto")
    rsa = raw.get("rsa_containers", "list")
    signer_id = raw.get("signer_id", "1234567812345678")
    if digest not in ("host", "key") or cert not in ("auto", "der") or rsa not in ("list", "hide"):
        raise SealBridgeError(
            "BAD_REQUEST", f"SKF profile {name}: digest/cert_encoding/rsa_containers invalid"
        )
    if not isinstance(signer_id, str) or not 0 < len(signer_id.encode()) <= 64:
        raise SealBridgeError("BAD_REQUEST", f"SKF profile {name}: signer_id must be 1..64 bytes of text")
    return SkfProfile(name, str(raw.get("library", "")), signer_id.encode(), digest, cert, rsa)


def load_profiles(extra_file: str | Path | None = None) -> list[SkfProfile]:
    """Built-in profiles, then those of `extra_file` in front of them (same JSON shape)."""
    text = resources.files("agent.tokens").joinpath("skf_profiles.json").read_text(encoding="utf-8")
    sources = [(text, "skf_profiles.json")]
    if extra_file is not None:
        try:
            sources.insert(0, (Path(extra_file).read_text(encoding="utf-8"), str(extra_file)))
        except OSError as exc:
            raise SealBridgeError(
                "BAD_REQUEST", f"cannot read SKF profiles {extra_file}: {exc.strerror}"
            ) from None
    out: list[SkfProfile] = []
    for body, source in sources:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise SealBridgeError("BAD_REQUEST", f"SKF profiles in {source}: {exc}") from None
        items = data.get("profiles") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise SealBridgeError("BAD_REQUEST", f"SKF profiles in {source}: expected a list")
        out.extend(_profile(item) for item in items)
    return out


def choose_profile(library: str, name: str | None = None, extra_file: str | Path | None = None) -> SkfProfile:
    profiles = load_profiles(extra_file)
    if name:
        for profile in profiles:
            if profile.name == name:
                return profile
        known = ", ".join(sorted({p.name for p in profiles}))
        raise SealBridgeError("BAD_REQUEST", f"unknown SKF profile {name!r} (known: {known})")
    base = Path(library).name.lower()
    for profile in profiles:
        if profile.library and fnmatch.fnmatch(base, profile.library.lower()):
            return profile
    raise SealBridgeError("BAD_REQUEST", "no SKF profile matches (the built-in 'standard' is missing)")
