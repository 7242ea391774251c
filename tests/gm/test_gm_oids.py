"""register_asn1crypto_oids: names resolve, registration is idempotent, GM/T 0010 CMS parses."""

from __future__ import annotations

from asn1crypto import algos, cms

from formats.gm import OID_GM_DATA, OID_GM_SIGNED_DATA, OID_SM2_SIGN, OID_SM2_SM3, OID_SM3
from formats.gm.oids import register_asn1crypto_oids


def test_names_and_idempotence():
    register_asn1crypto_oids()
    register_asn1crypto_oids()
    assert algos.DigestAlgorithmId(OID_SM3).native == "sm3"
    assert algos.DigestAlgorithmId("sm3").dotted == OID_SM3
    assert algos.SignedDigestAlgorithmId(OID_SM2_SM3).native == "sm2_sm3"
    assert algos.SignedDigestAlgorithmId("sm2_sm3").dotted == OID_SM2_SM3
    assert algos.SignedDigestAlgorithmId(OID_SM2_SIGN).native == "sm2_1"
    assert cms.ContentType("gm_signed_data").dotted == OID_GM_SIGNED_DATA
    assert cms.ContentType(OID_GM_DATA).native == "gm_data"
    # standard names are untouched
    assert cms.ContentType("signed_data").dotted == "1.2.840.113549.1.7.2"


def test_gm_signed_data_content_info_parses_as_signed_data():
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sm3"}],
            "encap_content_info": {"content_type": "gm_data"},
            "certificates": [],
            "signer_infos": [],
        }
    )
    der = cms.ContentInfo({"content_type": "gm_signed_data", "content": signed}).dump()
    parsed = cms.ContentInfo.load(der)
    assert parsed["content_type"].dotted == OID_GM_SIGNED_DATA
    assert isinstance(parsed["content"], cms.SignedData)
    assert parsed["content"]["digest_algorithms"][0]["algorithm"].native == "sm3"
    assert parsed["content"]["encap_content_info"]["content_type"].dotted == OID_GM_DATA
