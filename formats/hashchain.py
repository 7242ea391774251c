"""The hash chain under both audit logs (the agent's and the central platform's, Art. 18 and 24).

Record n carries hash_n = SM3(hash_{n-1} ‖ canonical bytes of record n), hash_0 = 32 zero bytes, so changing,
inserting or deleting a record breaks the chain at that record. What "canonical bytes" are is each log's own
business (its columns); linking and walking the chain, and the verdict, are defined once here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from formats.gm import sm3

GENESIS_HEX = "00" * 32


def link(prev_hash_hex: str, record: bytes) -> str:
    """The hash of a record that follows `prev_hash_hex` (hex SM3)."""
    return sm3(bytes.fromhex(prev_hash_hex) + record).hex()


@dataclass(frozen=True)
class ChainEntry:
    """One stored record as the walker sees it. `record` is None when the stored content cannot even be
    read back into canonical bytes (then `unreadable` says why)."""

    seq: int
    prev_hash: str
    hash: str
    record: bytes | None
    unreadable: str = ""


@dataclass
class ChainVerdict:
    """The outcome of walking a chain: intact, or the first bad record and why."""

    ok: bool
    count: int  # records verified (before the first bad one)
    first_bad_seq: int | None = None
    reason: str = ""
    head_hash: str | None = None  # hash of the last good record
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a warning that does not break the chain

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_hash": self.head_hash,
            **({"warning": self.extra["warning"]} if self.extra.get("warning") else {}),
        }


def walk(entries: Iterable[ChainEntry]) -> ChainVerdict:
    """Walk records in seq order from the first; stop at the first one that is missing, does not link to its
    predecessor, or whose content does not match its hash."""
    prev = GENESIS_HEX
    expected = 1
    count = 0
    for entry in entries:
        if entry.seq != expected:
            return ChainVerdict(False, count, expected, f"record {expected} is missing", prev)
        if entry.prev_hash != prev:
            return ChainVerdict(
                False, count, entry.seq, f"record {entry.seq} does not link to record {entry.seq - 1}", prev
            )
        if entry.record is None:
            return ChainVerdict(
                False, count, entry.seq, f"record {entry.seq} is unreadable: {entry.unreadable}", prev
            )
        if link(prev, entry.record) != entry.hash:
            return ChainVerdict(
                False, count, entry.seq, f"record {entry.seq} was altered (hash mismatch)", prev
            )
        prev = entry.hash
        expected += 1
        count += 1
    return ChainVerdict(True, count, None, "", prev)
