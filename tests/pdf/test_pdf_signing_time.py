"""Where a PDF seal's signing time comes from: a verified RFC 3161 token, or the signer's own claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stamping.options import VerifyOptions
from stamping.pdf import verify
from tests.support.pdf_flows import stamp_pdf, trusting
from tests.support.pdf_maker import contract_pdf


def test_backdated_claim_is_marked_claimed(sm2_party) -> None:  # type: ignore[no-untyped-def]
    back = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)  # within the seal
    report = verify(stamp_pdf(contract_pdf(1), sm2_party, signed_at=back), trusting(sm2_party))
    seal = report.seals[0]
    assert seal.signed_at == back.isoformat()
    assert seal.extra["signing_time_source"] == "claimed"
    assert seal.to_dict()["extra"]["signing_time_detail"]
    assert report.verdict == "valid"  # informational: the verdict does not change


@pytest.mark.parametrize("kind", ["rsa", "sm2"])
def test_timestamped_time_is_marked_timestamp(tsa, kind, rsa_party, sm2_party) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    url, tsa_root = tsa
    party = rsa_party if kind == "rsa" else sm2_party
    pdf = stamp_pdf(contract_pdf(1), party, timestamp_url=url)
    seal = verify(pdf, VerifyOptions(trust_anchors=[party.root, tsa_root])).seals[0]
    assert seal.checks["timestamp"].status == "ok"
    assert seal.extra["signing_time_source"] == "timestamp"
    # an untrusted TSA still proves the time was not chosen by the signer
    seal = verify(pdf, trusting(party)).seals[0]
    assert seal.extra["signing_time_source"] == "timestamp"
