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
from dataclasses import dataclass
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
    """One seal the user may see: where it came from, the token and key it is bound to, and the parsed seal.
    The one description of a seal in the agent — the store lists these, the server stamps with them (it sets
    `token`, the live token object), and `to_info()` is the one JSON shape of a seal (the protocol's
    sealInfo), shared by `seals.list` and `sealbridge seals list --json`."""

    seal_id: str  # the seal's esID (or sha256:… of the bytes when they do not parse)
    source: str  # "token": stored on the token; "platform": issued for its certificate
    der: bytes
    token_info: TokenInfo
    key: KeyInfo | None = None  # the token key whose certificate the seal lists; None: not bound
    error: str | None = None  # the seal could not be parsed or bound (shown, never used for stamping)
    seal: Any = None  # formats.ses.Seal
    token: Any = None  # the live agent.tokens Token, set by the agent server when it can sign with it

    @property
    def token_id(self) -> str:
        return self.token_info.token_id

    @property
    def token_label(self) -> str:
        return self.token_info.label

    @property
    def key_id(self) -> str | None:
        return self.key.key_id if self.key is not None else None

    @property
    def cert_sha256(self) -> str | None:
        return cert_sha256(self.key.certificate) if self.key is not None else None

    @property
    def cert_serial(self) -> str:
        from asn1crypto import x509

        assert self.key is not None, "an unbound seal has no signer certificate"
        return format(x509.Certificate.load(self.key.certificate).serial_number, "x")

    @property
    def name(self) -> str:
        return self.seal.name if self.seal is not None else ""

    @property
    def holder(self) -> str:
        """The common name of the bound certificate, else of the first certificate the seal lists."""
        if self.key is not None:
            return _subject_cn(self.key.certificate)
        if self.seal is not None and self.seal.certs:
            return _subject_cn(self.seal.certs[0])
        return ""

    @property
    def valid_start(self) -> datetime | None:
        return self.seal.valid_start if self.seal is not None else None

    @property
    def valid_end(self) -> datetime | None:
        return self.seal.valid_end if self.seal is not None else None

    @property
    def usable(self) -> bool:
        """Can be offered for stamping: parsed and bound to a key of its token."""
        return self.error is None and self.seal is not None and self.key is not None

    @property
    def usable_now(self) -> bool:
        if not self.usable or self.valid_start is None or self.valid_end is None:
            return False
        return self.valid_start <= datetime.now(UTC) <= self.valid_end

    def to_info(self, include_picture: bool = False) -> dict[str, Any]:
        """The seal as JSON: the protocol's sealInfo (docs/protocol.schema.json). Usable seals only."""
        from asn1crypto import x509

        assert self.usable and self.key is not None, "only a usable seal has a sealInfo"
        cert = x509.Certificate.load(self.key.certificate)
        pic = self.seal.picture
        info: dict[str, Any] = {
            "id": self.seal_id,
            "name": self.seal.name,
            "esID": self.seal.esid,
            "kind": _kind_name(self.seal),
            "version": str(self.seal.version),
            "token_id": self.token_id,
            "key_id": self.key.key_id,
            "algorithm": self.key.algorithm,
            "cert_subject": cert.subject.human_friendly[:1000],
            "cert_serial": self.cert_serial,
            **_signer_names(cert),
            "valid_from": _iso(self.seal.valid_start),
            "valid_to": _iso(self.seal.valid_end),
            "width_mm": float(pic.width_mm) if pic else None,
            "height_mm": float(pic.height_mm) if pic else None,
        }
        if include_picture:
            from stamping.sealview import picture_png

            png = picture_png(pic.type, pic.data) if pic else None
            info["picture_png_base64"] = base64.b64encode(png).decode() if png else None
        return info

    def to_unusable(self) -> dict[str, Any]:
        """A seal that cannot be offered, and why (the CLI lists these beside the usable ones)."""
        return {
            "id": self.seal_id,
            "source": self.source,
            "token_id": self.token_id,
            "error": self.error
            or "SEAL_NOT_FOR_SIGNER: no certificate of the token is in the seal's certList",
        }


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


def _kind_name(seal: Any) -> str | None:
    try:
        from formats.ses import describe_type

        desc = describe_type(seal.type, seal.version)
        name = desc.get("label_zh") or desc.get("label_en")
        return str(name)[:100] if name else str(seal.type)
    except Exception:  # a kind we cannot name is still a usable seal
        return str(seal.type)


def _bound_key(seal: Any, keys: list[KeyInfo]) -> KeyInfo | None:
    """The token key whose certificate the seal lists (certList certificates or digests)."""
    from formats.ses import signer_in_seal  # one binding rule for the store, the stamper and the verifier

    return next((k for k in keys if signer_in_seal(seal, k.certificate)), None)


def describe_seal(der: bytes, source: str, token: TokenInfo, bound: KeyInfo | None = None) -> SealEntry:
    """Parse a seal (formats.ses.parse_seal) and bind it to a certificate of `token`."""
    entry = SealEntry(seal_id="", source=source, der=der, token_info=token)
    try:
        from formats.ses import parse_seal

        seal = parse_seal(der)
    except SealBridgeError as err:
        entry.error = f"{err.code}: {err.detail or err.message_en}"
        entry.seal_id = f"sha256:{hashlib.sha256(der).hexdigest()[:16]}"
        return entry
    entry.seal = seal
    entry.seal_id = seal.esid
    entry.key = bound if bound is not None and _bound_key(seal, [bound]) else _bound_key(seal, token.keys)
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


def _signer_names(cert: Any) -> dict[str, str | None]:
    """Who signs with a seal, as a clerk reads it: the holder's name, the company, the certificate's issuer
    (names, not distinguished names)."""

    def name(attrs: Any, *keys: str) -> str | None:
        for key in keys:
            value = attrs.native.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if value:
                return str(value)[:200]
        return None

    try:
        return {
            "holder": name(cert.subject, "common_name"),
            "company": name(cert.subject, "organization_name"),
            "issuer": name(cert.issuer, "organization_name", "common_name"),
        }
    except ValueError:
        return {"holder": None, "company": None, "issuer": None}
