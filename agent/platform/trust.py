"""Which platform answers the agent believes: SM2-with-SM3 signed envelopes checked against pinned platform
status certificates — configured, or fetched from /api/v1/platform on first use and pinned on disk.

Signed envelope (see docs/central.md): {"response": {...}, "signature": b64 DER, "signature_algorithm": OID,
"cert_sha256": hex}; the signature covers canonical JSON of `response` (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from agent.platform.transport import PlatformTransport
from formats.canonjson import canonical_json
from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3
from formats.gm.keys import verify_signature
from stamping.fileout import atomic_write


class EnvelopeTrust:
    def __init__(
        self,
        base_url: str,
        trusted_certs: list[bytes] | None = None,
        pin_file: Path | None = None,
        pin_on_first_use: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pin_file = pin_file
        self.pin_on_first_use = pin_on_first_use
        self.trusted: dict[str, bytes] = {
            hashlib.sha256(c).hexdigest(): bytes(c) for c in trusted_certs or []
        }
        if not self.trusted and pin_file is not None:
            self.trusted = self._load_pins()

    def _load_pins(self) -> dict[str, bytes]:
        path = self.pin_file
        if not path or not path.exists():
            return {}
        try:
            pins = json.loads(path.read_text()).get(self.base_url, {})
            return {sha: base64.b64decode(der) for sha, der in pins.items()}
        except (ValueError, AttributeError):
            raise SealBridgeError(
                "PLATFORM_RESPONSE_INVALID", f"{path} is damaged; delete it to re-pin"
            ) from None

    async def ensure(self, transport: PlatformTransport) -> None:
        """Have at least one trusted certificate: the configured ones, the pinned ones, or pin now."""
        if self.trusted:
            return
        if not self.pin_on_first_use:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "no trusted platform certificate configured")
        status, body = await transport.request("GET", "/api/v1/platform")
        try:
            certs = {
                c["sha256"]: base64.b64decode(c["der"]) for c in body["certificates"] if c["role"] == "status"
            }
        except (KeyError, TypeError, ValueError):
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "malformed /api/v1/platform answer") from None
        certs = {
            hashlib.sha256(d).hexdigest(): d for d in certs.values()
        }  # never trust the server's own hash
        if status != 200 or not certs:
            raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "the platform published no status certificate")
        self.trusted = certs
        path = self.pin_file
        if path:
            try:
                all_pins = json.loads(path.read_text()) if path.exists() else {}
            except ValueError:
                all_pins = {}
            all_pins[self.base_url] = {sha: base64.b64encode(d).decode() for sha, d in certs.items()}
            atomic_write(path, json.dumps(all_pins, indent=1).encode())

    def verify_envelope(self, envelope: Any, kind: str) -> dict[str, Any]:
        """The signed `response` if the envelope is signed by a trusted platform certificate, else raise."""

        def bad(why: str) -> SealBridgeError:
            return SealBridgeError("PLATFORM_RESPONSE_INVALID", why)

        if not isinstance(envelope, dict) or not isinstance(envelope.get("response"), dict):
            raise bad("not a signed platform response")
        response = envelope["response"]
        sha = envelope.get("cert_sha256")
        cert = self.trusted.get(sha) if isinstance(sha, str) else None
        if cert is None:
            raise bad(f"signed by an untrusted certificate ({str(sha)[:16]}…)")
        if envelope.get("signature_algorithm") != OID_SM2_SM3 or response.get("platform_cert") != sha:
            raise bad("wrong signature algorithm or certificate binding")
        try:
            signature = base64.b64decode(envelope.get("signature", ""), validate=True)
            data = canonical_json(response)
        except (ValueError, TypeError):
            raise bad("undecodable signature or response") from None
        if not signature or not verify_signature(cert, OID_SM2_SM3, data, signature):
            raise bad("the signature does not verify with the platform certificate")
        if response.get("type") != kind or not isinstance(response.get("produced_at"), str):
            raise bad(f"expected a {kind} response")
        return response
