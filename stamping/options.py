"""Options and results shared by the OFD and PDF stampers and verifiers.

Contract of each format module (stamping.ofd, stamping.pdf):
    stamp(data: bytes, out: BinaryIO, signer: Signer, seal: bytes, placements: list[Placement],
          options: StampOptions) -> StampResult
        `seal` is the DER SESeal to stamp with; output is written to `out` (the caller makes it atomic).
    verify(data: bytes, options: VerifyOptions) -> Report
Both raise formats.errors.SealBridgeError for anything a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from stamping.platform_status import StatusLookup
from stamping.timestamps import TimeStamper


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
    # RFC 3161 time-stamp on each signature value (OFD SES_Signature.timeStamp, PDF signatureTimeStampToken:
    # PAdES B-T). Built by the agent/CLI, which own the network.
    timestamper: TimeStamper | None = None
    progress: Callable[[float], None] | None = None  # 0.0 .. 1.0
    producer: Producer = field(default_factory=Producer)  # OFD Provider element


@dataclass
class VerifyOptions:
    trust_anchors: list[bytes] = field(default_factory=list)  # DER root certificates
    extra_certs: list[bytes] = field(default_factory=list)  # DER certs for signatures that carry none
    status_lookup: StatusLookup | None = None
    now: datetime | None = None  # default: now, UTC
    #: The platform the status lookup asks, for the report's policy: {"url": …, "certificate_sha256": …}.
    platform: dict[str, str | None] | None = None
    document_name: str | None = None  # for the report's `document`; never used to pick the format
    #: (SM3 hex, SHA-256 hex) when the caller hashed the bytes already (the agent hashes uploads as they arrive).
    document_digests: tuple[str, str] | None = None
    #: The same pair still being computed (stamping.docdigests.document_digests_later): a fresh CLI process
    #: hashes the file while it imports the verifier. Waited for when the report is finished.
    document_digests_later: Callable[[], tuple[str, str]] | None = None
    #: May a forked helper process check some of a PDF's signatures (stamping/pdf/forkshare.py)? Only for
    #: a process that exists to verify one document (the CLI), never for a server; without a status lookup.
    fork_helper: bool = False


@dataclass
class StampResult:
    format: Literal["ofd", "pdf"]
    signature_ids: list[str] = field(default_factory=list)  # e.g. OFD "Sign_2", PDF field names
    pages: list[int] = field(default_factory=list)  # 1-based pages that received a seal image
    boxes: list[tuple[int, float, float, float, float]] = field(
        default_factory=list
    )  # page, x, y, w, h (mm, top-left)
    timestamp: str = (
        "none"  # "tsa": every signature carries a time-stamp token; "skipped": TSA down, optional
    )
    #: SM3 (hex) of the input and of the output, when the stamper hashed them on the way (PDF does: the
    #: audit record needs no second read of either).
    doc_sm3_before: str | None = None
    doc_sm3_after: str | None = None
