"""The verification report (v2) shared by OFD, PDF, the CLI, the agent protocol, the central platform and the
extension. JSON schema: docs/report-v2.schema.json; field by field: docs/verification.md.

Every check result, reason and warning is a code with parameters ({"code": "REF_DIGEST_MISMATCH",
"file": "/Doc_0/Document.xml"}), rendered to Chinese and English by stamping.messages (one catalogue,
shared with the extension). Per seal the report gives our verdict and the ETSI EN 319 102-1 indication and
sub-indication, derived from the checks by one table (the catalogue's `sub_indication` per code).

Version 1 consumers: `format`, `verdict`, `seals[].id/type/verdict/signed_at/checks[name].status`,
`checks[name].detail` (English), `signer.subject/serial/issuer` and `seal.esID/name/version/type/picture_*`
keep their meaning (signer.issuer is now a name, not a distinguished name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from stamping.messages import enum_text, render, sub_indication_of

Status = Literal["ok", "failed", "unknown"]
Verdict = Literal["valid", "invalid", "indeterminate"]
DocVerdict = Literal["valid", "invalid", "indeterminate", "no_seals"]
TimeSource = Literal["signer", "tsa"]

REPORT_VERSION = 2

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
# Which check explains a seal best, first: a changed document before a broken signature before the rest.
EXPLAIN_ORDER = (
    "integrity",
    "changes_after",
    "signature",
    "seal",
    "signer_in_seal",
    "certificate",
    "platform_status",
    "timestamp",
)
_ALTERED = ("integrity", "changes_after")

EXIT_CODES = {"valid": 0, "invalid": 1, "indeterminate": 3, "no_seals": 3}
INDICATIONS = {"valid": "TOTAL_PASSED", "invalid": "TOTAL_FAILED", "indeterminate": "INDETERMINATE"}


def iso(value: datetime | str | None) -> str | None:
    """Report times: ISO 8601, UTC for aware datetimes; texts are passed through."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Reason:
    """A code from the message catalogue with its parameters (JSON-safe values only)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.params}


def reason(code: str, **params: Any) -> Reason:
    return Reason(code, {k: iso(v) if isinstance(v, datetime) else v for k, v in params.items()})


@dataclass
class Check:
    status: Status = "unknown"
    reasons: list[Reason] = field(default_factory=lambda: [Reason("NOT_CHECKED")])

    @classmethod
    def ok(cls, code: str, **params: Any) -> Check:
        return cls("ok", [reason(code, **params)])

    @classmethod
    def failed(cls, code: str, **params: Any) -> Check:
        return cls("failed", [reason(code, **params)])

    @classmethod
    def unknown(cls, code: str, **params: Any) -> Check:
        return cls("unknown", [reason(code, **params)])

    @classmethod
    def of(cls, status: Status, reasons: list[Reason]) -> Check:
        return cls(status, list(reasons) or [Reason("NOT_CHECKED")])

    def also(self, code: str, **params: Any) -> Check:
        """Add a further reason (a note such as CERT_EXPIRED_NOW); returns self."""
        self.reasons.append(reason(code, **params))
        return self

    @property
    def code(self) -> str:
        return self.reasons[0].code

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @property
    def applicable(self) -> bool:
        """A check that does not apply (no timestamp was added, no platform configured) is not a doubt."""
        return not (self.status == "unknown" and self.code.startswith("NA_"))

    @property
    def detail(self) -> str:
        """English text of all reasons (what report v1 had in `detail`)."""
        return "; ".join(render(r.code, r.params, "en") for r in self.reasons)

    def text(self, lang: Literal["zh", "en"] = "zh") -> str:
        sep = "；" if lang == "zh" else "; "
        return sep.join(render(r.code, r.params, lang) for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "applicable": self.applicable,
            "reasons": [r.to_dict() for r in self.reasons],
            "detail": self.detail,
        }


@dataclass
class SealInfo:
    esID: str
    name: str
    version: int
    type: int | None = None
    picture_png_base64: str | None = None
    picture_width_mm: float | None = None
    picture_height_mm: float | None = None
    made_at: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    maker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        enum = "seal_type_v1" if self.version == 1 else "seal_type"
        known = self.type is not None and enum_text(enum, self.type, "en") != str(self.type)
        return {
            "esID": self.esID,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "type_name": (
                {"zh": enum_text(enum, self.type, "zh"), "en": enum_text(enum, self.type, "en")}
                if known
                else None
            ),
            "made_at": self.made_at,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "maker": self.maker,
            "picture_png_base64": self.picture_png_base64,
            "picture_width_mm": self.picture_width_mm,
            "picture_height_mm": self.picture_height_mm,
        }


@dataclass
class SignerInfo:
    subject: str
    serial: str
    issuer: str = ""
    name: str = ""
    organisation: str | None = None
    uscc: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name or self.subject,
            "organisation": self.organisation,
            "uscc": self.uscc,
            "issuer": self.issuer,
            "serial": self.serial,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "subject": self.subject,
        }


@dataclass
class SealReport:
    id: str
    type: Literal["seal", "sign"] = "seal"
    signed_at: str | None = None
    #: "tsa" when a verified RFC 3161 timestamp gives signed_at, "signer" for the signer's own claim.
    signing_time_source: TimeSource | None = None
    signer: SignerInfo | None = None
    seal: SealInfo | None = None
    #: {"algorithm": "SM2-with-SM3", "format": "GB/T 38540 V4" | "PAdES (ETSI.CAdES.detached)" | …}
    signature: dict[str, Any] = field(default_factory=dict)
    #: {"pages": [1-based], "files": [...] (OFD), "byte_ranges": [[start, length], …] (PDF), "whole_document": bool}
    covers: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=lambda: {n: Check() for n in CHECK_NAMES})
    #: Warnings the verifier adds itself (e.g. UNSIGNED_CHANGES_AFTER); the rest derive from the checks.
    notes: list[Reason] = field(default_factory=list)
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
            c.status == "ok" or (n not in core and not c.applicable) for n, c in self.checks.items()
        ):
            return "valid"
        return "indeterminate"

    def explaining(self) -> tuple[str, Check] | None:
        """The check that decides a seal that is not valid: the first failed one, else the first doubtful one."""
        if self.verdict == "valid":
            return None
        wanted = "failed" if self.verdict == "invalid" else "unknown"
        for name in EXPLAIN_ORDER:
            c = self.checks[name]
            if c.status == wanted and c.applicable:
                return name, c
        return None

    @property
    def indication(self) -> str:
        return INDICATIONS[self.verdict]

    @property
    def sub_indication(self) -> str | None:
        found = self.explaining()
        if found is None:
            return None
        for r in found[1].reasons:
            # pyHanko reports ETSI sub-indications itself for certificate paths; they are more precise.
            problem = r.params.get("etsi")
            if isinstance(problem, str) and problem:
                return problem
            sub = sub_indication_of(r.code)
            if sub:
                return sub
        return "GENERIC"

    @property
    def time_source(self) -> TimeSource | None:
        """signing_time_source, else read from the v1 `extra` fields a verifier set (timestamp/tsa → "tsa")."""
        if self.signing_time_source is not None:
            return self.signing_time_source
        legacy = self.extra.get("signing_time_source")
        if legacy is None or self.signed_at is None:
            return None
        return "tsa" if legacy in ("timestamp", "tsa") else "signer"

    @property
    def best_signature_time(self) -> str | None:
        """ETSI EN 319 102-1 best-signature-time: the earliest time the signature provably existed — the
        timestamp's time when one verifies, else the validation time (set by the Report)."""
        return self.signed_at if self.time_source == "tsa" else None

    def warnings(self) -> list[Reason]:
        """Valid-but-attention states, each a code the UI shows on its own line."""
        out = list(self.notes)
        if self.verdict == "invalid":
            return out
        platform = self.checks["platform_status"]
        if platform.status == "ok":
            first = platform.reasons[0].params
            now = first.get("now_status")
            if now == "revoked":
                out.append(reason("SEAL_REVOKED_AFTER_SIGNING", since=first.get("since")))
            elif now == "suspended":
                out.append(reason("SEAL_SUSPENDED_NOW", since=first.get("since")))
        for r in self.checks["certificate"].reasons:
            if r.code == "CERT_EXPIRED_NOW":
                out.append(r)
        if self.signed_at and self.time_source == "signer":
            out.append(reason("SIGNING_TIME_FROM_SIGNER_ONLY"))
        return out

    def headline(self) -> Reason:
        return _headline(self.verdict, [self])

    def to_dict(self, validation_time: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "verdict": self.verdict,
            "indication": self.indication,
            "sub_indication": self.sub_indication,
            "headline": self.headline().to_dict(),
            "signed_at": self.signed_at,
            "signing_time_source": self.time_source,
            "best_signature_time": self.best_signature_time or validation_time,
            "signer": self.signer.to_dict() if self.signer else None,
            "seal": self.seal.to_dict() if self.seal else None,
            "signature": self.signature or None,
            "covers": self.covers or None,
            "checks": {n: self.checks[n].to_dict() for n in CHECK_NAMES},
            "warnings": [w.to_dict() for w in self.warnings()],
        }
        if self.extra:
            out["extra"] = self.extra
        return out


def _headline(verdict: str, seals: list[SealReport]) -> Reason:
    """What happened, in the words a clerk acts on (issue 15): altered / invalid / not confirmed (why) /
    valid / valid but revoked now."""
    if verdict == "no_seals":
        return Reason("HEADLINE_NO_SEALS")
    if verdict == "invalid":
        altered = any(
            s.verdict == "invalid" and s.checks[n].status == "failed" for s in seals for n in _ALTERED
        )
        return Reason("HEADLINE_ALTERED" if altered else "HEADLINE_INVALID")
    if verdict == "indeterminate":
        for s in seals:
            found = s.explaining()
            if s.verdict == "indeterminate" and found is not None:
                return Reason("HEADLINE_INDETERMINATE", {"reason": found[1].reasons[0].to_dict()})
        return Reason("HEADLINE_INDETERMINATE", {"reason": {"code": "NOT_CHECKED"}})
    codes = {w.code for s in seals for w in s.warnings()}
    if "SEAL_REVOKED_AFTER_SIGNING" in codes:
        return Reason("HEADLINE_VALID_REVOKED_NOW")
    if "SEAL_SUSPENDED_NOW" in codes:
        return Reason("HEADLINE_VALID_SUSPENDED_NOW")
    return Reason("HEADLINE_VALID")


@dataclass
class Report:
    format: Literal["ofd", "pdf"]
    seals: list[SealReport] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    validation_time: str | None = None
    #: {"name": "SealBridge", "version": "…"}
    product: dict[str, Any] = field(default_factory=dict)
    #: What was checked against what: {"checks": [...], "trust_anchors": [{name, subject, sha256}],
    #: "platform": {"url", "certificate_sha256"} | None}
    policy: dict[str, Any] = field(default_factory=dict)
    #: {"name", "format", "size", "pages", "sm3", "sha256"}
    document: dict[str, Any] = field(default_factory=dict)

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

    def headline(self) -> Reason:
        return _headline(self.verdict, self.seals)

    def to_dict(self) -> dict[str, Any]:
        verdict = self.verdict
        worst = next((s for s in self.seals if s.verdict == verdict), None)
        out: dict[str, Any] = {
            "report_version": REPORT_VERSION,
            "format": self.format,
            "verdict": verdict,
            "indication": INDICATIONS.get(verdict),
            "sub_indication": worst.sub_indication if worst else None,
            "headline": self.headline().to_dict(),
            "validation_time": self.validation_time,
            "product": self.product,
            "policy": self.policy,
            "document": self.document,
            "seals": [s.to_dict(self.validation_time) for s in self.seals],
        }
        if self.extra:
            out["extra"] = self.extra
        return out
