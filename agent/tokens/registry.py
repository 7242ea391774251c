"""Open a token from a spec string ("soft:PATH", "pkcs11:LABEL[/CKA_ID_HEX]") and list the tokens present.

The PKCS#11 driver is imported lazily: the soft token must work on a machine without python-pkcs11 or any
module, and the CLI must not pay for loading PKCS#11 libraries it does not use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.tokens.base import Token
from formats.errors import SealBridgeError

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _pkcs11_driver() -> Any | None:
    try:
        return importlib.import_module("agent.tokens.pkcs11")
    except ModuleNotFoundError as exc:
        if exc.name in ("agent.tokens.pkcs11", "pkcs11"):
            return None
        raise


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """Split a token spec into (scheme, location, key id). Raises BAD_REQUEST when it is not one we know."""
    if not isinstance(spec, str) or ":" not in spec:
        raise SealBridgeError(
            "BAD_REQUEST", f"token spec {spec!r} must be soft:PATH or pkcs11:LABEL[/CKA_ID]"
        )
    scheme, _, rest = spec.partition(":")
    if not rest:
        raise SealBridgeError("BAD_REQUEST", f"token spec {spec!r} names no token")
    if scheme == "soft":
        return "soft", rest, None
    if scheme == "pkcs11":
        label, sep, key_id = rest.rpartition("/")
        if not sep:
            return "pkcs11", rest, None
        if not label or not key_id or not _HEX.match(key_id) or len(key_id) % 2:
            raise SealBridgeError("BAD_REQUEST", f"token spec {spec!r}: CKA_ID must be hex")
        return "pkcs11", label, key_id.lower()
    raise SealBridgeError("BAD_REQUEST", f"unknown token scheme {scheme!r} (use soft: or pkcs11:)")


def open_token(spec: str, modules: Iterable[str] = ()) -> Token:
    scheme, location, key_id = parse_spec(spec)
    if scheme == "soft":
        from agent.tokens.soft import SoftToken

        return SoftToken(Path(location))
    driver = _pkcs11_driver()
    if driver is None:
        raise SealBridgeError("TOKEN_NOT_FOUND", "the PKCS#11 driver is not available in this build")
    return driver.open_token(location, key_id, list(modules))


def list_tokens(modules: Iterable[str] = (), soft_paths: Iterable[str | Path] = ()) -> list[Token]:
    """Soft tokens at the given paths, then the PKCS#11 driver's tokens (skipped when the driver is absent)."""
    from agent.tokens.soft import SoftToken

    tokens: list[Token] = [SoftToken(Path(p)) for p in soft_paths]
    driver = _pkcs11_driver()
    if driver is not None:
        tokens.extend(driver.list_tokens(list(modules)))
    return tokens
