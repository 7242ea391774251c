"""An SES_Signature with a [0] timeStamp (GB/T 38540 V4): imprint over the signature value, TSA signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stamping.ofd import verify
from stamping.options import VerifyOptions
from tests.support.ofd_timestamp import stamped_sample, tsa_token, with_timestamp


def test_good_timestamp_sets_signing_time(ofd_samples, pki):
    gen = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: tsa_token(pki, sig, gen))
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert seal.checks["timestamp"].status == "ok", seal.checks["timestamp"]
    assert seal.signed_at == gen.isoformat() and seal.extra["signing_time_source"] == "timestamp"
    assert seal.verdict == "valid"


def test_timestamp_over_other_data_fails(ofd_samples, pki):
    gen = datetime.now(UTC)
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: tsa_token(pki, sig + b"x", gen))
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert seal.checks["timestamp"].status == "failed" and "does not cover" in seal.checks["timestamp"].detail
    assert seal.verdict == "invalid"


def test_garbage_timestamp_fails_cleanly(ofd_samples, pki):
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: b"\x30\x03\x02\x01\x01")
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert seal.checks["timestamp"].status == "failed"
