"""The upload copied into a PDF stamp's output with the SM3 the agent already has.

A PDF stamp starts by copying the original into its output while hashing it (stamping/copyhash.py): the
SM3 for the audit record and, with an SM2 key, the signature's digest. The agent hashed the same bytes as
their frames arrived (the approval window shows that SM3), so hashing them again would cost a second full
SM3 pass for nothing. UploadCopy hands the stamper that state instead: the copy only copies, and hashes
only for a signature digest other than SM3 (SHA-256 for RSA and ECDSA keys). The stamper continues the
state over its incremental update, so the signature digest and the result's SM3 are the same as if every
byte had been hashed again.
"""

from __future__ import annotations

from typing import Any

from formats.dochash import Hasher
from formats.gm import SM3Hasher
from stamping.copyhash import HashingCopy


class UploadCopy(HashingCopy):
    """HashingCopy of the uploaded `data` into `out`, whose SM3 state is the upload's (a copy of it)."""

    def __init__(self, data: bytes, out: Any, sm3_state: SM3Hasher, signature_digest: str) -> None:
        super().__init__(data, out, [] if signature_digest == "sm3" else [signature_digest])
        self._sm3 = sm3_state

    def result(self) -> dict[str, Hasher]:
        return {**super().result(), "sm3": self._sm3.copy()}
