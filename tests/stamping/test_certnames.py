"""Names from certificates for the report: CN → name, O → organisation, a valid USCC from the subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asn1crypto import x509

from formats.gm import SM2PrivateKey
from formats.x509 import build_certificate
from stamping.certnames import party, signer_info

USCC = "91350100M000100Y43"  # check character correct (GB 32100)


def _cert(subject: dict) -> x509.Certificate:
    key = SM2PrivateKey.generate()
    now = datetime.now(UTC)
    der = build_certificate(subject, key.public_key, None, key, not_before=now - timedelta(days=1),
                            not_after=now + timedelta(days=30))  # fmt: skip
    return x509.Certificate.load(der)


def test_name_organisation_and_uscc_from_the_subject():
    cert = _cert(
        {
            "common_name": "张三",
            "organization_name": "测试有限公司",
            "serial_number": USCC,
            "country_name": "CN",
        }
    )
    info = signer_info(cert)
    assert info is not None
    assert (info.name, info.organisation, info.uscc) == ("张三", "测试有限公司", USCC)
    assert info.issuer == "张三"  # self-signed: the issuer's name, not "Common Name: 张三, …"
    assert info.valid_from and info.valid_to and "Common Name" in info.subject


def test_a_code_with_a_wrong_check_character_is_no_uscc():
    wrong = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    who = party(_cert({"common_name": "李四", "organizational_unit_name": wrong}).subject)
    assert who == {"name": "李四", "organisation": None, "uscc": None}


def test_organisation_only_subject_is_named_by_its_organisation():
    who = party(_cert({"organization_name": "某某市税务局", "country_name": "CN"}).subject)
    assert who["name"] == "某某市税务局"
