"""OFD stamping and verification (GB/T 33190 §18 with GB/T 38540 seals).

Contract (stamping/options.py): stamp(data, out, signer, seal, placements, options) -> StampResult and
verify(data, options) -> Report.
"""

from stamping.lazy import export_functions

# Loaded on first use: verifying never imports the stamper, nor stamping the verifier.
export_functions(__name__, "stamp", "verify")

__all__ = ["stamp", "verify"]
