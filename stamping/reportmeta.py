"""What a verification report says about itself: when it was made, by which product, under which policy
(trust anchors, platform) and about which document (name, size, pages, SM3 and SHA-256). Set once by each
format's verify() so the CLI, the agent and the platform all hand out the same facts."""

from __future__ import annotations

from datetime import datetime

from stamping.certnames import anchor_summary
from stamping.docdigests import document_digests
from stamping.options import VerifyOptions
from stamping.report import CHECK_NAMES, Report, iso

PRODUCT_NAME = "SealBridge"
# The same as pyproject.toml's version (a test keeps them equal): reading the installed metadata instead
# costs importlib.metadata's import and a scan of sys.path, 15-20 ms of every `sealbridge verify`.
PRODUCT_VERSION = "0.1.0"


def finish(report: Report, data: bytes, options: VerifyOptions, now: datetime, pages: int | None) -> Report:
    report.validation_time = iso(now)
    report.product = {"name": PRODUCT_NAME, "version": PRODUCT_VERSION}
    report.policy = {
        "checks": list(CHECK_NAMES),
        "trust_anchors": [anchor_summary(bytes(a)) for a in options.trust_anchors],
        "extra_certificates": len(options.extra_certs),
        "platform": dict(options.platform) if options.platform else None,
        "signing_time": "timestamp if it verifies, else the signer's claim",
    }
    if options.document_digests is not None:
        sm3_hex, sha_hex = options.document_digests
    elif options.document_digests_later is not None:
        sm3_hex, sha_hex = options.document_digests_later()
    else:
        sm3_hex, sha_hex = document_digests(data)
    report.document = {
        "name": options.document_name,
        "format": report.format,
        "size": len(data),
        "pages": pages,
        "sm3": sm3_hex,
        "sha256": sha_hex,
    }
    return report
