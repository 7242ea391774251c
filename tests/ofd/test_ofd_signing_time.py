"""OFD verifier: the signing-time source in the report, and the signer certificate passed to the platform."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from stamping.ofd import stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At
from stamping.report import Check
from tests.support.ofd_timestamp import stamped_sample, tsa_token, with_timestamp


def _stamped_at(ofd_samples, pki, at: datetime) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    data = (ofd_samples / "unsigned-helloworld.ofd").read_bytes()
    stamp(data, out, pki.signer, pki.seal, [At(page=1, x=100, y=100)], StampOptions(signed_at=at))
    return out.getvalue()


def test_backdated_claim_is_marked_claimed(ofd_samples, pki) -> None:  # type: ignore[no-untyped-def]
    back = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)  # within the seal
    report = verify(_stamped_at(ofd_samples, pki, back), VerifyOptions(trust_anchors=[pki.root_cert]))
    (seal,) = report.seals
    assert seal.extra["signing_time_source"] == "claimed"
    assert "signed by the signer" in seal.extra["signing_time_detail"]
    assert datetime.fromisoformat(seal.signed_at) == back
    assert seal.verdict == "valid"
    json.dumps(report.to_dict())  # JSON-safe


def test_verified_timestamp_is_marked_timestamp(ofd_samples, pki) -> None:  # type: ignore[no-untyped-def]
    gen = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: tsa_token(pki, sig, gen))
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert seal.extra["signing_time_source"] == "timestamp"


def test_status_lookup_gets_the_signer_certificate(ofd_samples, pki) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple] = []

    def lookup(esid, signed_at, cert_der=None):  # type: ignore[no-untyped-def]
        seen.append((esid, signed_at, cert_der))
        return Check.ok("active")

    verify(
        stamped_sample(ofd_samples, pki), VerifyOptions(trust_anchors=[pki.root_cert], status_lookup=lookup)
    )
    assert len(seen) == 1 and seen[0][2] == pki.signer.certificate

    old: list[tuple] = []  # a two-argument lookup still works
    verify(
        stamped_sample(ofd_samples, pki),
        VerifyOptions(status_lookup=lambda esid, at: old.append((esid, at)) or Check.ok("active")),
    )
    assert len(old) == 1
