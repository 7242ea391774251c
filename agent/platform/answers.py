"""A verified status body as the agent uses it: the seal's status now and at a signing time, and what a
non-active status refuses with. The meaning of the fields is the shared contract (stamping.platform_status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from formats.errors import SealBridgeError
from stamping.platform_status import (
    describe_status,
    parse_platform_time,
    platform_time,
    status_at,
    status_check,
)
from stamping.report import Check

# The error a stamp is refused with when the seal is not active now.
REFUSALS = {
    "revoked": "SEAL_REVOKED",
    "suspended": "SEAL_SUSPENDED",
    "expired": "SEAL_EXPIRED",
    "not_yet_valid": "SEAL_NOT_YET_VALID",
    "not_issued": "SEAL_NOT_FOUND",
    "unknown": "SEAL_NOT_FOUND",
}


@dataclass
class StatusAnswer:
    esid: str
    status: str  # now: active | suspended | revoked | expired | not_yet_valid | not_issued
    since: str | None
    produced_at: str
    at: str | None = None
    status_at: str | None = None  # at `at`
    from_cache: bool = False
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def note(self) -> str:
        return f"[cached answer of {self.produced_at}; platform unreachable]" if self.from_cache else ""

    def describe(self) -> str:
        return describe_status(self.status, self.since, self.at, self.status_at, self.note)

    def to_check(self, cert_der: bytes | None = None, signed_at: datetime | None = None) -> Check:
        """The report's platform_status (stamping.platform_status.status_check). An answer asked for a
        signing time is judged at that time, also when the caller does not repeat it."""
        if self.at is not None and signed_at is None:
            signed_at = parse_platform_time(self.at)
        return status_check(
            self.body,
            self.status,
            self.since,
            self.at,
            self.status_at,
            cert_der=cert_der,
            signed_at=signed_at,
            produced_at=self.produced_at,
            cached=self.from_cache,
        )

    def refusal(self) -> SealBridgeError | None:
        """The error a stamp with this seal is refused with now, or None when it is active."""
        if self.status == "active":
            return None
        code = REFUSALS.get(self.status, "SEAL_NOT_FOUND")
        return SealBridgeError(code, f"seal {self.esid}: {self.describe()}", {"esID": self.esid})


def answer_from(response: dict[str, Any], at: datetime | None, from_cache: bool) -> StatusAnswer:
    """A StatusAnswer from a verified status response. A cached one is re-derived from its signed history:
    "now" has moved on since the answer was produced."""
    try:
        answer = StatusAnswer(
            esid=response["esID"],
            status=response["status"],
            since=response.get("since"),
            produced_at=response["produced_at"],
            from_cache=from_cache,
            body=response,
        )
        if from_cache:
            hist = [(e["at"], e["status"]) for e in response["history"]]
            vs, ve = response["valid_start"], response["valid_end"]
            answer.status, answer.since, _ = status_at(hist, vs, ve, platform_time(datetime.now(UTC)))
            if at is not None:
                answer.at = platform_time(at)
                answer.status_at = status_at(hist, vs, ve, answer.at)[0]
        elif at is not None:
            answer.at, answer.status_at = response["at"], response["status_at"]
    except (KeyError, TypeError):
        raise SealBridgeError("PLATFORM_RESPONSE_INVALID", "status response misses fields") from None
    return answer
