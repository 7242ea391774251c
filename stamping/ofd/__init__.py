"""OFD stamping and verification (GB/T 33190 §18 with GB/T 38540 seals).

Contract (stamping/options.py): stamp(data, out, signer, seal, placements, options) -> StampResult and
verify(data, options) -> Report.
"""

from stamping.ofd.stamp import stamp
from stamping.ofd.verify import verify

__all__ = ["stamp", "verify"]
