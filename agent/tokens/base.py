"""The token interface the agent sees, whatever the hardware (PKCS#11, SKF, soft token).

Every method may block (USB I/O, a PIN pad, a memory-hard KDF): the agent calls them in a worker thread,
one at a time per token (see agent.tokens.worker if present). A PIN is passed in and never stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stamping.signer import Signer


@dataclass
class KeyInfo:
    key_id: str  # hex CKA_ID for PKCS#11; a stable id for soft tokens
    label: str
    algorithm: str  # "sm2" | "rsa" | "ecdsa"
    certificate: bytes  # DER
    chain: list[bytes] = field(default_factory=list)  # DER issuers, nearest first


@dataclass
class TokenInfo:
    token_id: str  # "soft:/path/file.soft" or "pkcs11:<label>"
    label: str
    kind: str  # "soft" | "pkcs11" | "skf"
    serial: str = ""
    manufacturer: str = ""
    pin_pad: bool = False
    keys: list[KeyInfo] = field(default_factory=list)
    seals: list[bytes] = field(default_factory=list)  # DER SESeals stored on the token
    extra: dict[str, Any] = field(default_factory=dict)


class Token(Protocol):
    def info(self) -> TokenInfo:
        """Describe the token, its certificates and seals; needs no PIN."""
        ...

    def signer(self, pin: str, key_id: str | None = None) -> Signer:
        """Log in and return a Signer for the key (the first key when key_id is None).
        Raises SealBridgeError PIN_INCORRECT (extra={"retries_left": n} when known), PIN_LOCKED, TOKEN_ABSENT."""
        ...

    def change_pin(self, old_pin: str, new_pin: str) -> None: ...
