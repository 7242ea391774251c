"""Trusted time for seals: the TimeStamper strategy, RFC 3161 request/reply handling, token checks.

A `TimeStamper` is built by the agent or the CLI (which own the network) and handed to the stampers in
`StampOptions.timestamper`; stamping itself never does I/O. It answers a digest with a DER TimeStampToken
(CMS ContentInfo) whose imprint is that digest, or raises SealBridgeError (TSA_UNREACHABLE when the TSA
cannot be reached, TIMESTAMP_FAILED when its answer is refused).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TimeStamper(Protocol):
    def timestamp(self, digest: bytes, hash_name: str) -> bytes:
        """A DER TimeStampToken over `digest`, computed with `hash_name` ("sm3", "sha256", ...)."""
        ...
