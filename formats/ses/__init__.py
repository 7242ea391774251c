"""Electronic seal structures: GM/T 0031-2014 (V1), GB/T 38540-2020 (V4), GM/T 0031-2025 (V5).

parse_seal / parse_signature read DER strictly (BER and damaged input -> DOC_MALFORMED) and keep the
original signed bytes; verify_* check signatures over those bytes; build_* (formats.ses.build) make V4
seals and signatures.

Importing the package loads what readers and verifiers need only: the builders come from
formats.ses.build, where their users import them; `from formats.ses import build_seal_v4` still works and
loads the builder on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

from formats.ses.kinds import SealCategory, SealKind, describe_type
from formats.ses.model import CertDigest, ExtDataItem, Seal, SealPicture, SesSignature
from formats.ses.parse import detect_kind, parse_seal, parse_signature
from formats.ses.verify import (
    check_seal_usable,
    signer_in_seal,
    verify_cert_signature,
    verify_maker,
    verify_signature_value,
)

__all__ = [
    "CertDigest",
    "ExtDataItem",
    "Seal",
    "SealCategory",
    "SealKind",
    "SealPicture",
    "SesSignature",
    "build_seal_v4",
    "build_signature_v4",
    "check_seal_usable",
    "describe_type",
    "detect_kind",
    "parse_seal",
    "parse_signature",
    "signer_in_seal",
    "verify_cert_signature",
    "verify_maker",
    "verify_signature_value",
]

_BUILDERS = ("build_seal_v4", "build_signature_v4")


def __getattr__(name: str) -> Any:
    if name in _BUILDERS:
        return getattr(importlib.import_module("formats.ses.build"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
