"""Options and results shared by the OFD and PDF stampers and verifiers.

Contract of each format module (stamping.ofd, stamping.pdf):
    stamp(data: bytes, out: BinaryIO, signer: Signer, seal: bytes, placements: list[Placement],
          options: StampOptions) -> StampResult
        `seal` is the DER SESeal to stamp with; output is written to `out` (the caller makes it atomic).
    verify(data: bytes, options: VerifyOptions) -> Report
Both raise formats.errors.SealBridgeError for anything a person can act on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from stamping.report import Check

#: (esID, signing time or None[, signer certificate DER]) -> the platform_status check for that seal.
#: Provided by the agent/CLI, which talk to the central platform; stamping itself never does network I/O.
#: A lookup that takes the third argument also checks the certificate held or was authorized to use the
#: seal at that time (stamping.seal_users); verifiers call it through `lookup_status`.
StatusLookup = Callable[..., Check]


def lookup_status(lookup: StatusLookup, esid: str, at: datetime | None, cert_der: bytes | None) -> Check:
    """Call `lookup`, with the signer certificate when it accepts one. Older lookups take (esID, time)
    only; passing them a third argument would raise, so the certificate is offered only where wanted."""
    if cert_der is not None and _takes_certificate(lookup):
        return lookup(esid, at, cert_der)
    return lookup(esid, at)


def _takes_certificate(lookup: StatusLookup) -> bool:
    try:
        params = list(inspect.signature(lookup).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable without a signature: the old form
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3


@dataclass(frozen=True)
class Producer:
    """Who made the signature, as written into OFD Signature.xml (Provider/@ProviderName, @Version,
    @Company). The caller names itself: stamping does not know which program is using it."""

    name: str = "SealBridge"
    version: str = ""  # omitted from the file when empty
    company: str = "SealBridge"


@dataclass
class StampOptions:
    lock: bool = False  # OFD: protect Signatures.xml so no later seal can be added
    reason: str | None = None  # PDF /Reason
    location: str | None = None  # PDF /Location
    signed_at: datetime | None = None  # default: now, UTC
    pdf_subfilter: Literal["ETSI.CAdES.detached", "adbe.pkcs7.detached"] = "ETSI.CAdES.detached"
    timestamp_url: str | None = None  # PDF RSA/ECDSA: PAdES B-T when set
    progress: Callable[[float], None] | None = None  # 0.0 .. 1.0
    producer: Producer = field(default_factory=Producer)  # OFD Provider element


@dataclass
class VerifyOptions:
    trust_anchors: list[bytes] = field(default_factory=list)  # DER root certificates
    extra_certs: list[bytes] = field(default_factory=list)  # DER certs for signatures that carry none
    status_lookup: StatusLookup | None = None
    now: datetime | None = None  # default: now, UTC


@dataclass
class StampResult:
    format: Literal["ofd", "pdf"]
    signature_ids: list[str] = field(default_factory=list)  # e.g. OFD "Sign_2", PDF field names
    pages: list[int] = field(default_factory=list)  # 1-based pages that received a seal image
    boxes: list[tuple[int, float, float, float, float]] = field(
        default_factory=list
    )  # page, x, y, w, h (mm, top-left)
