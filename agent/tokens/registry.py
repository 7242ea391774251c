"""Open a token from a spec string ("soft:PATH", "pkcs11:LABEL[/CKA_ID]", "skf:DEVICE[/APP/CONTAINER]") and
list the tokens present — a thin front of the driver table (agent.tokens.drivers)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.tokens import drivers
from agent.tokens.base import Token
from agent.tokens.drivers import TokenSources


def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """Split a token spec into (kind, location, key id). Raises BAD_REQUEST when it is not one we know."""
    return drivers.parse_spec(spec)


def open_token(spec: str, modules: Iterable[Any] = (), *, skf_modules: Iterable[Any] = ()) -> Token:
    return drivers.open_token(spec, TokenSources.of(pkcs11=list(modules), skf=list(skf_modules)))


def list_tokens(
    modules: Iterable[Any] = (), soft_paths: Iterable[str | Path] = (), *, skf_modules: Iterable[Any] = ()
) -> list[Token]:
    """Soft tokens at the given paths, then PKCS#11 tokens, then SKF keys (a kind whose driver cannot load
    in this build is skipped)."""
    return drivers.list_tokens(
        TokenSources.of(soft=list(soft_paths), pkcs11=list(modules), skf=list(skf_modules))
    )
