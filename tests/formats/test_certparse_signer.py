"""formats.certparse.signer_certificate: the one place a CMS SignerInfo's sid is matched to a certificate
(OFD PKCS#7 signed values and RFC 3161 timestamp tokens both use it)."""

from __future__ import annotations

from asn1crypto import cms, x509

from devkit.material import make_cert
from formats.certparse import signer_certificate
from tests.support.hostile import poisoned_name


def _signer(sid: cms.SignerIdentifier) -> cms.SignerInfo:
    return cms.SignerInfo({"sid": sid})


def _by_issuer_serial(cert: x509.Certificate, issuer: x509.Name | None = None) -> cms.SignerInfo:
    ias = cms.IssuerAndSerialNumber({"issuer": issuer or cert.issuer, "serial_number": cert.serial_number})
    return _signer(cms.SignerIdentifier(name="issuer_and_serial_number", value=ias))


def test_matches_by_issuer_and_serial_among_several():
    a, b = (x509.Certificate.load(make_cert(name)[1]) for name in ("甲", "乙"))
    assert signer_certificate(_by_issuer_serial(b), [a, b]) is b
    assert signer_certificate(_by_issuer_serial(a), [a, b]) is a


def test_matches_by_subject_key_identifier():
    a, b = (x509.Certificate.load(make_cert(name)[1]) for name in ("甲", "乙"))
    if b.key_identifier is None:  # the builder writes SKI; without it this case has nothing to match
        raise AssertionError("test certificates carry a subject key identifier")
    sid = cms.SignerIdentifier(name="subject_key_identifier", value=b.key_identifier)
    assert signer_certificate(_signer(sid), [a, b]) is b


def test_no_match_is_none_even_for_a_single_certificate():
    a, b = (x509.Certificate.load(make_cert(name)[1]) for name in ("甲", "乙"))
    assert signer_certificate(_by_issuer_serial(b), [a]) is None


def test_damaged_sid_is_none_not_an_exception():
    cert = x509.Certificate.load(make_cert()[1])
    damaged = x509.Name.load(poisoned_name(cert.issuer.dump()))
    sid = cms.SignerIdentifier.load(_by_issuer_serial(cert, damaged)["sid"].dump())  # reloaded: lazy again
    assert signer_certificate({"sid": sid}, [cert]) is None
