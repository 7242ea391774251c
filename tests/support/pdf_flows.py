"""Stamp a PDF with a test party and the verify options that trust it (PDF verification tests)."""

from __future__ import annotations

import io

from stamping.options import StampOptions, VerifyOptions
from stamping.pdf import stamp
from stamping.placement import At


def stamp_pdf(data: bytes, party, placements=None, **opts) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    stamp(data, out, party.signer, party.seal, placements or [At(1, 60, 60)], StampOptions(**opts))
    return out.getvalue()


def trusting(*parties) -> VerifyOptions:  # type: ignore[no-untyped-def]
    return VerifyOptions(trust_anchors=[p.root for p in parties])
