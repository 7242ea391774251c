"""The token-driver table: one entry per kind of token (soft, pkcs11, skf).

A kind is one module with a `DRIVER` object (see `TokenDriver`) plus one line in `DRIVERS`. The module is
imported on first use, so the soft token works on a machine without python-pkcs11 or any vendor library, and
the CLI never pays for loading libraries it does not use. Everything that names token kinds (the registry,
hot-plug, the agent, the CLI options in agent.cli.token_options) goes through this table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.tokens.base import Token
from formats.errors import SealBridgeError

#: kind -> module that defines DRIVER. The order is the listing order.
DRIVERS: dict[str, str] = {
    "soft": "agent.tokens.soft_driver",
    "pkcs11": "agent.tokens.pkcs11_driver",
    "skf": "agent.tokens.skf_driver",
}


@dataclass(frozen=True)
class TokenSources:
    """Where tokens come from, per kind: soft token files, PKCS#11 modules, SKF libraries (paths or tables)."""

    by_kind: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, **kinds: Any) -> TokenSources:
        return cls({kind: tuple(v or ()) for kind, v in kinds.items() if kind in DRIVERS})

    def get(self, kind: str) -> tuple[Any, ...]:
        return self.by_kind.get(kind, ())

    def any(self) -> bool:
        return any(self.by_kind.values())


class TokenDriver(Protocol):
    kind: str
    spec: str  # the spec syntax, for help and error messages

    def parse_location(self, rest: str) -> tuple[str, str | None]:
        """The part after "kind:" → (location, key id or None). Raises BAD_REQUEST."""
        ...

    def open(self, location: str, key_id: str | None, sources: tuple[Any, ...]) -> Token: ...

    def list(self, sources: tuple[Any, ...]) -> list[Token]:
        """The tokens present (no PIN; call .info() for certificates and seals)."""
        ...

    def monitor(self, sources: tuple[Any, ...], workers: Any) -> Any | None:
        """A hot-plug monitor (subscribe/start/stop, emitting token.inserted/removed), None when the kind
        has nothing to watch."""
        ...


_loaded: dict[str, TokenDriver | None] = {}


def driver(kind: str) -> TokenDriver | None:
    """The driver of `kind`, or None when its module cannot load in this build (e.g. no python-pkcs11)."""
    if kind not in _loaded:
        try:
            _loaded[kind] = importlib.import_module(DRIVERS[kind]).DRIVER
        except ModuleNotFoundError as exc:
            if exc.name not in ("pkcs11", DRIVERS[kind]):
                raise
            _loaded[kind] = None
    return _loaded[kind]


def spec_syntax() -> str:
    return " or ".join(d.spec if (d := driver(k)) is not None else f"{k}:…" for k in DRIVERS)


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """Split a token spec into (kind, location, key id). Raises BAD_REQUEST when it is not one we know."""
    if not isinstance(spec, str) or ":" not in spec:
        raise SealBridgeError("BAD_REQUEST", f"token spec {spec!r} must be {spec_syntax()}")
    kind, _, rest = spec.partition(":")
    if kind not in DRIVERS:
        known = ", ".join(f"{k}:" for k in DRIVERS)
        raise SealBridgeError("BAD_REQUEST", f"unknown token kind {kind!r} (use {known})")
    if not rest:
        raise SealBridgeError("BAD_REQUEST", f"token spec {spec!r} names no token")
    drv = driver(kind)
    if drv is None:
        raise SealBridgeError("TOKEN_NOT_FOUND", f"the {kind} driver is not available in this build")
    location, key_id = drv.parse_location(rest)
    return kind, location, key_id


def open_token(spec: str, sources: TokenSources) -> Token:
    kind, location, key_id = parse_spec(spec)
    drv = driver(kind)
    assert drv is not None  # parse_spec checked it
    return drv.open(location, key_id, sources.get(kind))


def list_tokens(sources: TokenSources) -> list[Token]:
    """Every kind's tokens present, in table order; kinds without sources or without a driver are skipped."""
    tokens: list[Token] = []
    for kind in DRIVERS:
        if not sources.get(kind):
            continue
        drv = driver(kind)
        if drv is not None:
            tokens.extend(drv.list(sources.get(kind)))
    return tokens


def monitors(sources: TokenSources, workers: Any) -> list[Any]:
    """A hot-plug monitor per kind that has sources and something to watch."""
    out = []
    for kind in DRIVERS:
        drv = driver(kind) if sources.get(kind) else None
        monitor = drv.monitor(sources.get(kind), workers) if drv is not None else None
        if monitor is not None:
            out.append(monitor)
    return out
