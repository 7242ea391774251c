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
    # Report v2: the time is the TSA's, it is the best signature time, and no "signer's claim" warning.
    v2 = seal.to_dict("2099-01-01T00:00:00+00:00")
    assert v2["signing_time_source"] == "tsa" and v2["best_signature_time"] == gen.isoformat()
    assert "SIGNING_TIME_FROM_SIGNER_ONLY" not in [w["code"] for w in v2["warnings"]]
    assert v2["checks"]["timestamp"]["reasons"][0]["code"] == "TS_OK"


def test_timestamp_over_other_data_fails(ofd_samples, pki):
    gen = datetime.now(UTC)
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: tsa_token(pki, sig + b"x", gen))
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert (
        seal.checks["timestamp"].status == "failed"
        and seal.checks["timestamp"].code == "TS_NOT_FOR_SIGNATURE"
    )
    assert seal.verdict == "invalid"


def test_garbage_timestamp_fails_cleanly(ofd_samples, pki):
    data = with_timestamp(stamped_sample(ofd_samples, pki), lambda sig: b"\x30\x03\x02\x01\x01")
    (seal,) = verify(data, VerifyOptions(trust_anchors=[pki.root_cert])).seals
    assert seal.checks["timestamp"].status == "failed"
