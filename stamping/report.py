"""The verification report shared by OFD, PDF, the CLI, the agent protocol and the central platform.

Shape (JSON):
{"format":"ofd"|"pdf","verdict":"valid"|"invalid"|"indeterminate"|"no_seals",
 "seals":[{"id":…,"type":"seal"|"sign","verdict":…,"signed_at":…,"signer":{"subject":…,"serial":…}|null,
   "seal":{"esID":…,"name":…,"version":…,"picture_png_base64":…}|null,
   "checks":{"integrity":C,"signature":C,"seal":C,"signer_in_seal":C,"certificate":C,
             "platform_status":C,"changes_after":C,"timestamp":C}}]}
C = {"status":"ok"|"failed"|"unknown","detail":"…"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "unknown"]
Verdict = Literal["valid", "invalid", "indeterminate"]
DocVerdict = Literal["valid", "invalid", "indeterminate", "no_seals"]

CHECK_NAMES = (
    "integrity",
    "signature",
    "seal",
    "signer_in_seal",
    "certificate",
    "platform_status",
    "changes_after",
    "timestamp",
)

# Checks whose failure makes a seal invalid. The others (chain to local anchors, platform status, timestamp)
# only make it indeterminate when unknown, but still invalid when they positively fail.
_CORE = ("integrity", "signature", "seal", "signer_in_seal")

EXIT_CODES = {"valid": 0, "invalid": 1, "indeterminate": 3, "no_seals": 3}


@dataclass
class Check:
    status: Status = "unknown"
    detail: str = ""

    @classmethod
    def ok(cls, detail: str = "") -> Check:
        return cls("ok", detail)

    @classmethod
    def failed(cls, detail: str) -> Check:
        return cls("failed", detail)

    @classmethod
    def unknown(cls, detail: str) -> Check:
        return cls("unknown", detail)

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


@dataclass
class SealInfo:
    esID: str
    name: str
    version: int
    type: int | None = None
    picture_png_base64: str | None = None
    picture_width_mm: float | None = None
    picture_height_mm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "esID": self.esID,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "picture_png_base64": self.picture_png_base64,
            "picture_width_mm": self.picture_width_mm,
            "picture_height_mm": self.picture_height_mm,
        }


@dataclass
class SignerInfo:
    subject: str
    serial: str
    issuer: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "serial": self.serial, "issuer": self.issuer}


@dataclass
class SealReport:
    id: str
    type: Literal["seal", "sign"] = "seal"
    signed_at: str | None = None
    signer: SignerInfo | None = None
    seal: SealInfo | None = None
    checks: dict[str, Check] = field(
        default_factory=lambda: {n: Check.unknown("not checked") for n in CHECK_NAMES}
    )
    #: Anything else a reader may want (SubFilter, locked, covered files…); free-form, JSON-safe.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        if any(c.status == "failed" for c in self.checks.values()):
            return "invalid"
        # A plain digital signature (OFD Type="Sign", a PDF signature without a seal) has no seal to check;
        # its seal checks say "not applicable" and it can be valid on integrity, signature and certificate.
        core = _CORE if self.type == "seal" else ("integrity", "signature")
        if all(self.checks[n].status == "ok" for n in core) and all(
            c.status == "ok" or (n not in core and c.detail.startswith("not applicable"))
            for n, c in self.checks.items()
        ):
            return "valid"
        return "indeterminate"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "verdict": self.verdict,
            "signed_at": self.signed_at,
            "signer": self.signer.to_dict() if self.signer else None,
            "seal": self.seal.to_dict() if self.seal else None,
            "checks": {n: self.checks[n].to_dict() for n in CHECK_NAMES},
        }
        if self.extra:
            out["extra"] = self.extra
        return out


@dataclass
class Report:
    format: Literal["ofd", "pdf"]
    seals: list[SealReport] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> DocVerdict:
        if not self.seals:
            return "no_seals"
        verdicts = {s.verdict for s in self.seals}
        for worst in ("invalid", "indeterminate"):
            if worst in verdicts:
                return worst  # type: ignore[return-value]
        return "valid"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.format,
            "verdict": self.verdict,
            "seals": [s.to_dict() for s in self.seals],
        }
        if self.extra:
            out["extra"] = self.extra
        return out
