"""PDF stamping and verification (ISO 32000-2 §12.8) with pyHanko; SM2 seals and RSA/ECDSA keys.

Contract (stamping/options.py):
    stamp(data, out, signer, seal, placements, options) -> StampResult
    verify(data, options) -> Report
"""

from __future__ import annotations

from stamping.lazy import export_functions

# Loaded on first use: verifying never imports the stamper, nor stamping the verifier.
export_functions(__name__, "stamp", "verify")

__all__ = ["stamp", "verify"]
