"""The verdict rules of the shared verification report."""

from stamping.report import CHECK_NAMES, Check, Report, SealReport


def _all_ok(kind: str = "seal") -> SealReport:
    rep = SealReport(id="s1", type=kind)  # type: ignore[arg-type]
    rep.checks = {n: Check.ok("REFS_MATCH") for n in CHECK_NAMES}
    return rep


def test_all_ok_is_valid_and_one_failure_is_invalid():
    rep = _all_ok()
    assert rep.verdict == "valid"
    rep.checks["integrity"] = Check.failed("REF_DIGEST_MISMATCH", file="/Doc_0/Document.xml")
    assert rep.verdict == "invalid"


def test_unknown_check_is_indeterminate_but_not_applicable_is_neutral():
    rep = _all_ok()
    rep.checks["timestamp"] = Check.unknown("NA_NO_TIMESTAMP")
    assert rep.verdict == "valid"
    rep.checks["certificate"] = Check.unknown("CERT_UNKNOWN_ISSUER", issuer="Some CA")
    assert rep.verdict == "indeterminate"


def test_a_seal_needs_its_seal_checks_but_a_plain_signature_does_not():
    seal = _all_ok("seal")
    seal.checks["seal"] = Check.unknown("NA_NO_SEAL")
    assert seal.verdict == "indeterminate"
    sign = _all_ok("sign")
    sign.checks["seal"] = Check.unknown("NA_SIGN_TYPE")
    sign.checks["signer_in_seal"] = Check.unknown("NA_NO_SEAL")
    assert sign.verdict == "valid"
    sign.checks["signature"] = Check.unknown("RAW_SM2_NO_CERT")
    assert sign.verdict == "indeterminate"


def test_document_verdict_is_the_worst_and_exit_codes_follow():
    assert Report("ofd").verdict == "no_seals" and Report("ofd").exit_code == 3
    good, bad = _all_ok(), _all_ok()
    bad.checks["signature"] = Check.failed("SIGNATURE_CRYPTO_FAILED")
    assert Report("pdf", [good]).exit_code == 0
    assert Report("pdf", [good, bad]).verdict == "invalid"
    assert Report("pdf", [good, bad]).exit_code == 1
