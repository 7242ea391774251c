"""Which seals the user may stamp with: seals on the inserted tokens plus seals the platform issued for their
certificates, cached in the agent's data dir so stamping still works offline.

Sources:
  (a) the token: CKO_DATA objects labelled `seal:<esID>` (TokenInfo.seals; soft tokens carry theirs too);
  (b) the platform: a provider callable, certificate SHA-256 (hex) -> list of DER seals; its answers are kept in
      <data_dir>/seals/<cert sha256>.json (written atomically) and used when the platform cannot be reached.
A seal is bound to the token certificate it lists (certificates or certificate digests in its certList).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.tokens.base import KeyInfo, TokenInfo
from formats.errors import SealBridgeError
from stamping.fileout import atomic_write

log = logging.getLogger(__name__)

PlatformProvider = Callable[[str], list[bytes]]  # certificate SHA-256 hex -> DER seals

_MAX_CACHED_SEALS = 256
_MAX_SEAL_BYTES = 4 * 1024 * 1024


def cert_sha256(cert_der: bytes) -> str:
    return hashlib.sha256(cert_der).hexdigest()


def _subject_cn(cert_der: bytes) -> str:
    from asn1crypto import x509

    try:
        subject = x509.Certificate.load(cert_der).subject.native
    except ValueError:
        return ""
    return str(subject.get("common_name") or subject.get("organization_name") or "")


@dataclass
class SealEntry:
    seal_id: str
    source: str  # "token" | "platform"
    der: bytes
    token_id: str
    token_label: str
    key_id: str | None = (
        None  # the bound certificate's key (CKA_ID hex), None when no token certificate matches
    )
    cert_sha256: str | None = None
    name: str = ""
    kind: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    holder: str = ""
    valid_start: datetime | None = None
    valid_end: datetime | None = None
    picture_type: str = ""
    picture_bytes: int = 0
    picture_mm: tuple[int, int] | None = None
    error: str | None = None  # the seal could not be parsed (shown, never used for stamping)
    seal: Any = None  # formats.ses.Seal

    @property
    def usable_now(self) -> bool:
        if self.error or self.valid_start is None or self.valid_end is None or self.key_id is None:
            return False
        now = datetime.now(UTC)
        return self.valid_start <= now <= self.valid_end

    def to_dict(self) -> dict[str, Any]:
        return {
            "seal_id": self.seal_id,
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "holder": self.holder,
            "valid_start": self.valid_start.isoformat() if self.valid_start else None,
            "valid_end": self.valid_end.isoformat() if self.valid_end else None,
            "picture": {
                "type": self.picture_type,
                "bytes": self.picture_bytes,
                "width_mm": self.picture_mm[0] if self.picture_mm else None,
                "height_mm": self.picture_mm[1] if self.picture_mm else None,
            },
            "source": self.source,
            "token_id": self.token_id,
            "token_label": self.token_label,
            "key_id": self.key_id,
            "cert_sha256": self.cert_sha256,
            "usable_now": self.usable_now,
            "error": self.error,
        }


def _bound_key(seal: Any, keys: list[KeyInfo]) -> KeyInfo | None:
    """The token key whose certificate the seal lists (certList certificates or digests)."""
    from formats.ses import signer_in_seal  # one binding rule for the store, the stamper and the verifier

    return next((k for k in keys if signer_in_seal(seal, k.certificate)), None)


def describe_seal(der: bytes, source: str, token: TokenInfo, bound: KeyInfo | None = None) -> SealEntry:
    """Parse a seal (formats.ses.parse_seal) and bind it to a certificate of `token`."""
    entry = SealEntry(seal_id="", source=source, der=der, token_id=token.token_id, token_label=token.label)
    try:
        from formats.ses import describe_type, parse_seal

        seal = parse_seal(der)
    except SealBridgeError as err:
        entry.error = f"{err.code}: {err.detail or err.message_en}"
        entry.seal_id = f"sha256:{hashlib.sha256(der).hexdigest()[:16]}"
        return entry
    entry.seal = seal
    entry.seal_id = seal.esid
    entry.name = seal.name
    entry.version = seal.version
    entry.kind = describe_type(seal.type, seal.version)
    entry.valid_start, entry.valid_end = seal.valid_start, seal.valid_end
    entry.picture_type = seal.picture.type
    entry.picture_bytes = len(seal.picture.data)
    entry.picture_mm = (seal.picture.width_mm, seal.picture.height_mm)
    key = bound if bound is not None and _bound_key(seal, [bound]) else _bound_key(seal, token.keys)
    if key is not None:
        entry.key_id, entry.cert_sha256 = key.key_id, cert_sha256(key.certificate)
        entry.holder = _subject_cn(key.certificate)
    elif seal.certs:
        entry.holder = _subject_cn(seal.certs[0])
    return entry


class SealStore:
    def __init__(self, data_dir: str | Path, provider: PlatformProvider | None = None) -> None:
        self.dir = Path(data_dir) / "seals"
        self.provider = provider

    # -- platform cache -----------------------------------------------------------------------------------
    def _cache_path(self, digest_hex: str) -> Path:
        if len(digest_hex) != 64 or any(c not in "0123456789abcdef" for c in digest_hex):
            raise SealBridgeError("BAD_REQUEST", "certificate digest must be 64 lowercase hex digits")
        return self.dir / f"{digest_hex}.json"

    def cached(self, digest_hex: str) -> list[bytes]:
        path = self._cache_path(digest_hex)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [base64.b64decode(s) for s in data["seals"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable seal cache %s: %s", path, exc)
            return []

    def store(self, digest_hex: str, seals: list[bytes]) -> None:
        """Replace the cached platform seals of one certificate (stamping.fileout.atomic_write)."""
        if len(seals) > _MAX_CACHED_SEALS or any(len(s) > _MAX_SEAL_BYTES for s in seals):
            raise SealBridgeError(
                "PLATFORM_RESPONSE_INVALID", "too many or too large seals from the platform"
            )
        path = self._cache_path(digest_hex)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {
            "cert_sha256": digest_hex,
            "fetched_at": datetime.now(UTC).isoformat(),
            "seals": [base64.b64encode(s).decode("ascii") for s in seals],
        }
        atomic_write(path, json.dumps(payload, indent=1).encode("utf-8"), 0o600, error_code="INTERNAL")

    def platform_seals(self, cert_der: bytes, refresh: bool = True) -> list[bytes]:
        """Seals the platform issued for this certificate: fresh when reachable, else the cached answer."""
        digest_hex = cert_sha256(cert_der)
        if refresh and self.provider is not None:
            try:
                seals = [bytes(s) for s in self.provider(digest_hex)]
            except SealBridgeError as err:
                log.info("platform seals for %s…: %s; using the cache", digest_hex[:12], err.code)
            except Exception as exc:  # a platform client bug must not hide the token's own seals
                log.warning("platform seal provider failed: %r; using the cache", exc)
            else:
                self.store(digest_hex, seals)
                return seals
        return self.cached(digest_hex)

    # -- listing ------------------------------------------------------------------------------------------
    def seals_for_token(self, token: TokenInfo, refresh: bool = True) -> list[SealEntry]:
        entries: list[SealEntry] = [describe_seal(der, "token", token) for der in token.seals]
        seen = {e.der for e in entries}
        for key in token.keys:
            for der in self.platform_seals(key.certificate, refresh):
                if der in seen:
                    continue
                seen.add(der)
                entry = describe_seal(der, "platform", token, bound=key)
                if entry.key_id is None and not entry.error:
                    # The platform issued it for this certificate; say so even if its certList disagrees.
                    entry.error = "SEAL_NOT_FOR_SIGNER: the certificate is not in the seal's certList"
                entries.append(entry)
        return entries

    def seals_for_tokens(self, tokens: Iterable[TokenInfo], refresh: bool = True) -> list[SealEntry]:
        out: list[SealEntry] = []
        for token in tokens:
            out.extend(self.seals_for_token(token, refresh))
        return out

    def find(self, seal_id: str, tokens: Iterable[TokenInfo], refresh: bool = False) -> SealEntry:
        """The usable seal `seal_id` (esID) on the given tokens; SEAL_NOT_FOUND when none is bound to a key."""
        matches = [
            e for e in self.seals_for_tokens(tokens, refresh) if e.seal_id == seal_id and e.seal is not None
        ]
        bound = [e for e in matches if e.key_id is not None]
        if bound:
            return bound[0]
        if matches:
            raise SealBridgeError("SEAL_NOT_FOR_SIGNER", f"seal {seal_id} lists no certificate of the token")
        raise SealBridgeError("SEAL_NOT_FOUND", f"seal {seal_id} is neither on the token nor issued for it")
