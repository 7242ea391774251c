"""Every seal sample gives the verdict in samples/README.md; SES signatures inside the sample OFDs verify."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from formats.gm import sm3
from formats.ses import (
    detect_kind,
    parse_seal,
    parse_signature,
    signer_in_seal,
    verify_maker,
    verify_signature_value,
)


@pytest.mark.parametrize(
    ("name", "version", "header_version"),
    [("ofdrw-v1.esl", 1, 1), ("ofdrw-v4.esl", 4, 4), ("ofdrw-v5.esl", 5, 5)],
)
def test_good_seal_samples_parse_and_maker_signature_verifies(seals_dir: Path, name, version, header_version):
    der = (seals_dir / name).read_bytes()
    assert detect_kind(der) == "seal"
    seal = parse_seal(der)
    assert seal.version == version
    assert seal.header_version == header_version
    assert seal.picture.type.upper() == "PNG"
    assert (seal.picture.width_mm, seal.picture.height_mm) == (40, 40)
    assert seal.picture.data.startswith(b"\x89PNG")
    assert seal.cert_list_type == 1 and len(seal.certs) == 1
    assert seal.valid_start.tzinfo is not None and seal.valid_start < seal.valid_end
    assert seal.der == der
    status, detail = verify_maker(seal)
    assert status == "ok", detail
    # the maker's certificate is not the signer's: the certList entry is a different certificate
    assert seal.certs[0] != seal.maker_cert


def test_v1_maker_signed_bytes_are_the_v1_sequence(seals_dir: Path):
    seal = parse_seal((seals_dir / "ofdrw-v1.esl").read_bytes())
    # SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}: starts with a SEQUENCE header, then SealInfo verbatim
    assert seal.maker_signed_bytes[0] == 0x30
    assert seal.seal_info_der in seal.maker_signed_bytes
    assert seal.maker_signed_bytes.endswith(bytes.fromhex("06082a811ccf55018375"))  # OID 1.2.156.10197.1.501
    # a V4-style check over DER(SES_SealInfo) alone must not pass for a V1 seal
    from formats.ses import verify_cert_signature

    status, _ = verify_cert_signature(
        seal.maker_cert, seal.sign_alg_oid, seal.seal_info_der, seal.maker_signature
    )
    assert status == "failed"


def test_v4_maker_signed_bytes_are_the_original_seal_info(seals_dir: Path):
    der = (seals_dir / "ofdrw-v4.esl").read_bytes()
    seal = parse_seal(der)
    assert seal.maker_signed_bytes == seal.seal_info_der
    assert der[4 : 4 + len(seal.seal_info_der)] == seal.seal_info_der


@pytest.mark.parametrize("name", ["ber-indefinite-v1.esl", "ber-indefinite-v4.esl"])
def test_ber_seals_are_rejected_as_not_der(seals_dir: Path, name):
    der = (seals_dir / name).read_bytes()
    with pytest.raises(SealBridgeError) as info:
        parse_seal(der)
    assert info.value.code == "DOC_MALFORMED"
    assert "not DER" in info.value.detail and "indefinite length" in info.value.detail
    assert detect_kind(der) is None


def test_text_converted_seal_is_rejected_with_a_clear_reason(seals_dir: Path):
    der = (seals_dir / "corrupted-text-converted.esl").read_bytes()
    with pytest.raises(SealBridgeError) as info:
        parse_seal(der)
    assert info.value.code == "DOC_MALFORMED"
    assert "not DER" in info.value.detail and "text conversion" in info.value.detail


def _ofd_signatures(path: Path) -> list[tuple[str, bytes, bytes | None, bytes | None]]:
    """(folder, SignedValue.dat, Signature.xml, Seal.esl) for each signature folder of an OFD."""
    out = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for name in sorted(names):
            if name.endswith("SignedValue.dat"):
                folder = name.rsplit("/", 1)[0]
                sig_xml = f"{folder}/Signature.xml"
                seal = f"{folder}/Seal.esl"
                out.append(
                    (
                        folder,
                        zf.read(name),
                        zf.read(sig_xml) if sig_xml in names else None,
                        zf.read(seal) if seal in names else None,
                    )
                )
    return out


SES_OFDS = {
    "gomain-invoice-v4.ofd": 4,
    "gomain-invoice-v4-tampered.ofd": 4,
    "gomain-jiangsu-invoice-v4.ofd": 4,
    "kinggrid-v4-relative-baseloc.ofd": 4,
    "kinggrid-v1.ofd": 1,
    "ofdrw-v4.ofd": 4,
    "ofdrw-v4-allprotected.ofd": 4,
    "ofdrw-v4-riding-seam.ofd": 4,
    "ofdrw-two-seals-first-broken.ofd": 4,
}


@pytest.mark.parametrize("name", sorted(SES_OFDS))
def test_signed_values_in_sample_ofds_verify(samples: Path, name):
    found = _ofd_signatures(samples / "ofd" / name)
    assert found
    for folder, signed_value, signature_xml, seal_file in found:
        assert detect_kind(signed_value) == "signature", folder
        sig = parse_signature(signed_value)
        assert sig.version == SES_OFDS[name]
        assert sig.seal.version == SES_OFDS[name]
        assert verify_signature_value(sig)[0] == "ok", (folder, verify_signature_value(sig))
        assert verify_maker(sig.seal)[0] == "ok", (folder, verify_maker(sig.seal))
        assert signer_in_seal(sig.seal, sig.signer_cert)
        assert sig.time is not None and sig.time.tzinfo is not None
        assert sig.property_info.endswith("Signature.xml")
        # dataHash = SM3 of the exact bytes of Signature.xml (the tampered invoice changed Document.xml only)
        assert signature_xml is not None and sig.data_hash == sm3(signature_xml)
        if seal_file is not None and name.startswith("ofdrw-"):
            assert seal_file == sig.seal.der  # ofdrw writes Seal.esl equal to the embedded seal


def test_v1_signature_time_info_is_read_from_the_bit_string(samples: Path):
    [(_, signed_value, _, _)] = _ofd_signatures(samples / "ofd" / "kinggrid-v1.ofd")
    sig = parse_signature(signed_value)
    assert sig.time_text == "20211014033404Z"
    assert sig.time.isoformat() == "2021-10-14T03:34:04+00:00"
    assert sig.tbs_version == 2 and sig.seal.header_version == 2


def test_other_signed_value_kinds_are_detected_and_refused_as_ses(samples: Path):
    pkcs7 = _ofd_signatures(samples / "ofd" / "gomain-pkcs7-two-signs.ofd")
    raw = _ofd_signatures(samples / "ofd" / "ofdrw-raw-digitalsign.ofd")
    assert [detect_kind(s[1]) for s in pkcs7] == ["pkcs7", "pkcs7"]
    assert detect_kind(raw[0][1]) == "raw_sm2"
    for blob in (pkcs7[0][1], raw[0][1]):
        with pytest.raises(SealBridgeError) as info:
            parse_signature(blob)
        assert info.value.code == "DOC_MALFORMED"
    with pytest.raises(SealBridgeError, match="PKCS#7"):
        parse_signature(pkcs7[0][1])


def test_a_seal_is_not_a_signature_and_vice_versa(seals_dir: Path, samples: Path):
    seal_der = (seals_dir / "ofdrw-v4.esl").read_bytes()
    with pytest.raises(SealBridgeError, match="an SESeal, not an SES_Signature"):
        parse_signature(seal_der)
    [(_, signed_value, _, _)] = _ofd_signatures(samples / "ofd" / "ofdrw-v4.ofd")
    with pytest.raises(SealBridgeError, match="an SES_Signature .*, not an SESeal") as info:
        parse_seal(signed_value)
    assert info.value.code == "DOC_MALFORMED"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20211014033404Z", "2021-10-14T03:34:04+00:00"),  # KingGrid
        ("2020-01-25T07:31:56.377Z", "2020-01-25T07:31:56.377000+00:00"),  # dms360
        ("2020-04-22 10:18:07", "2020-04-22T02:18:07+00:00"),  # ofdrw: Beijing time, no zone
        ("211014033404Z", "2021-10-14T03:34:04+00:00"),
        ("yesterday", None),
    ],
)
def test_v1_time_info_texts(samples: Path, text: str, expected: str | None):
    """Rewrite the KingGrid V1 timeInfo with the texts other producers write; the parser reads each."""
    from asn1crypto.core import OctetBitString

    from formats.ses.der import parse_der, sequence_of_raw

    [(_, der, _, _)] = _ofd_signatures(samples / "ofd" / "kinggrid-v1.ofd")
    tree = parse_der(der)
    tbs = tree.children[0]
    parts = [c.raw(der) for c in tbs.children]
    parts[2] = OctetBitString(text.encode("ascii")).dump()
    rebuilt = sequence_of_raw(sequence_of_raw(*parts), tree.children[1].raw(der))
    sig = parse_signature(rebuilt)
    assert sig.time_text == text
    assert (sig.time.isoformat() if sig.time else None) == expected
    if expected is None:
        assert any("timeInfo" in w for w in sig.warnings)
    # the signer signed the original timeInfo: a rewritten one must not verify
    assert verify_signature_value(sig)[0] == ("ok" if text == "20211014033404Z" else "failed")
