"""The short seeded fuzz pass CI runs (the long one: `make fuzz N=20000`)."""

from __future__ import annotations

import json

from tests.fuzz.run import KINDS, build_seeds, run

SHORT_PASS = 80  # mutants in all; about a minute on a loaded two-core machine


def test_short_seeded_fuzz_pass(dev_pki, samples, tmp_path):
    seeds = build_seeds(dev_pki, samples, tmp_path)
    assert {s.kind for s in seeds} == set(KINDS)
    summary = run(seeds, SHORT_PASS, seed=20261206, anchors=list(dev_pki.roots.values()), workdir=tmp_path)
    assert summary.inputs == dict.fromkeys(KINDS, SHORT_PASS // len(KINDS))
    assert summary.false_valid == 0
    assert summary.findings == [], json.dumps(summary.findings, ensure_ascii=False, indent=1)[:6000]


def test_the_oracles_can_fail(dev_pki, samples, tmp_path, monkeypatch):
    """The harness would notice: a changed signed byte is "changed", a change inside /Contents is not,
    and an exception outside the product's error class is a finding with its traceback."""
    from tests.fuzz.run import Seed, pdf_signed_ranges, signed_bytes_changed
    from tests.fuzz.worker import Checker
    from tests.support.hostile import stamped_pdf

    pdf = stamped_pdf(dev_pki, tmp_path)
    seed = Seed("pdf", "p", pdf, pdf_signed_ranges(pdf))
    (start, end), _ = seed.signed
    inside_contents = end + 10  # the first range ends where the /Contents hex string begins
    assert not signed_bytes_changed(seed, pdf[:inside_contents] + b"1" + pdf[inside_contents + 1 :], {})
    assert signed_bytes_changed(seed, pdf[:100] + bytes([pdf[100] ^ 1]) + pdf[101:], {})

    checker = Checker([])
    assert checker.check("seal", b"\x30\x03\x02\x01\x00")["ok"]

    def broken(self, data):  # type: ignore[no-untyped-def]
        raise KeyError("a parser bug")

    monkeypatch.setattr(Checker, "document", broken)
    answer = checker.check("pdf", pdf)
    assert not answer["ok"] and "KeyError" in answer["error"]
