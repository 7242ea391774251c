"""Verifying stamped PDFs: tampering, later changes, several seals, foreign SubFilters, timestamps,
and independent checks of what we produce (stock pyHanko for RSA/ECDSA, gmssl + SM3 for SM2)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agent.tsa_client import HttpTimeStamper
from formats.der import first_element
from formats.errors import SealBridgeError
from formats.gm import SM2PublicKey, sm3
from formats.x509 import build_certificate
from stamping.options import VerifyOptions
from stamping.pdf import verify
from stamping.placement import At, Seam
from stamping.report import Check
from tests.support.pdf_flows import pyhanko_sign, stamp_pdf, trusting
from tests.support.pdf_maker import append_page, contract_pdf
from tests.support.pdf_parties import NOW, make_party


def test_stamped_pdf_is_valid(party) -> None:  # type: ignore[no-untyped-def]
    pdf = stamp_pdf(contract_pdf(1), party)
    report = verify(pdf, trusting(party))
    assert report.verdict == "valid", report.to_dict()
    seal = report.seals[0]
    assert seal.type == "seal"
    assert seal.seal is not None and seal.seal.esID.startswith("11010000")
    assert seal.seal.picture_png_base64
    assert seal.signer is not None and "Signer" in seal.signer.subject
    assert seal.extra["subfilter"] == "/ETSI.CAdES.detached"
    assert seal.extra["digest"] == ("sm3" if party.signer.algorithm == "sm2" else "sha256")
    assert seal.checks["certificate"].status == "ok"


def test_without_anchors_the_certificate_is_unknown(sm2_party) -> None:
    report = verify(stamp_pdf(contract_pdf(1), sm2_party), VerifyOptions())
    assert report.verdict == "indeterminate"
    assert report.seals[0].checks["certificate"].code == "NO_TRUST_ANCHORS"
    # another CA's root does not make it trusted
    report = verify(stamp_pdf(contract_pdf(1), sm2_party), VerifyOptions(trust_anchors=[_other_root()]))
    assert report.seals[0].checks["certificate"].status == "unknown"


def _other_root() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return build_certificate({"common_name": "Unrelated Root"}, key, None, key, ca=True)


def test_one_byte_changed_inside_the_range_is_invalid(party) -> None:  # type: ignore[no-untyped-def]
    pdf = bytearray(stamp_pdf(contract_pdf(1), party))
    pos = pdf.index(b"Contract page 1")
    pdf[pos] = ord("X")
    report = verify(bytes(pdf), trusting(party))
    assert report.verdict == "invalid"
    assert report.seals[0].checks["integrity"].status == "failed"


def test_one_byte_changed_in_the_seal_picture_region_is_invalid(sm2_party) -> None:
    """A byte flipped in the appended revision (the widget appearance), still inside the byte range."""
    data = contract_pdf(1)
    pdf = bytearray(stamp_pdf(data, sm2_party))
    pos = pdf.index(b"/Subtype /Widget", len(data))
    pdf[pos + 2] ^= 0x20  # /Subtype -> /SUbtype
    assert verify(bytes(pdf), trusting(sm2_party)).verdict == "invalid"


def test_page_appended_after_signing_fails_changes_after(sm2_party) -> None:
    pdf = append_page(stamp_pdf(contract_pdf(1), sm2_party))
    report = verify(pdf, trusting(sm2_party))
    seal = report.seals[0]
    assert seal.checks["integrity"].status == "ok"  # its own revision is untouched
    assert seal.checks["changes_after"].status == "failed", seal.checks["changes_after"]
    assert report.verdict == "invalid"


def test_second_seal_keeps_the_first_valid(sm2_party, rsa_party) -> None:
    once = stamp_pdf(contract_pdf(2), sm2_party)
    twice = stamp_pdf(once, rsa_party, [Seam("right")])
    report = verify(twice, trusting(sm2_party, rsa_party))
    assert [s.verdict for s in report.seals] == ["valid", "valid"], report.to_dict()
    first, second = report.seals
    assert first.extra["coverage"] == "ENTIRE_REVISION"
    assert first.extra["modification_level"] == "FORM_FILLING"
    assert second.extra["coverage"] == "ENTIRE_FILE"


def test_signature_with_an_unknown_subfilter_is_listed(sm2_party) -> None:
    pdf = stamp_pdf(contract_pdf(1), sm2_party)
    # A vendor signature: same length, so the file structure stays intact.
    vendor = pdf.replace(b"/SubFilter /ETSI.CAdES.detached", b"/SubFilter /GM.sm2seal         ", 1)
    assert vendor != pdf
    report = verify(vendor, trusting(sm2_party))
    assert len(report.seals) == 1
    seal = report.seals[0]
    assert seal.verdict == "indeterminate"
    assert seal.extra["subfilter"] == "/GM.sm2seal"
    assert "/GM.sm2seal" in seal.checks["signature"].detail


def test_stock_pyhanko_validates_rsa_and_ecdsa(rsa_party, ecdsa_party) -> None:
    for party in (rsa_party, ecdsa_party):
        pdf = stamp_pdf(contract_pdf(2), party, [At(1, 50, 50), Seam("right")])
        reader = PdfFileReader(io.BytesIO(pdf))
        vc = ValidationContext(trust_roots=[asn1_x509.Certificate.load(party.root)])
        for sig in reader.embedded_signatures:
            status = validate_pdf_signature(sig, vc)
            assert status.intact and status.valid and status.trusted, status.summary()


def test_sm2_output_checks_out_independently(sm2_party) -> None:
    """SM3 over the ByteRange == messageDigest; the SM2 signature verifies with the pure-Python backend."""
    pdf = stamp_pdf(contract_pdf(1), sm2_party)
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match
    a, b, c, d = (int(v) for v in match.groups())
    assert a == 0 and c + d == len(pdf)
    contents = bytes.fromhex(pdf[a + b + 1 : c - 1].decode("ascii"))
    signed_data = cms.ContentInfo.load(first_element(contents))["content"]
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    attrs = {attr["type"].dotted: attr["values"][0] for attr in signer_info["signed_attrs"]}
    assert attrs["1.2.840.113549.1.9.4"].native == sm3(pdf[a : a + b] + pdf[c : c + d])
    assert attrs["2.25.325754713898753620882212272006325673523"].dump() == sm2_party.seal
    cert = asn1_x509.Certificate.load(sm2_party.signer.certificate)
    key = SM2PublicKey.from_spki(cert.public_key)
    signed_attrs_der = signer_info["signed_attrs"].untag().dump()
    assert key.verify(signed_attrs_der, signer_info["signature"].native, backend="gmssl")
    assert not key.verify(signed_attrs_der + b"x", signer_info["signature"].native, backend="gmssl")


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_adbe_pkcs7_detached(kind, sm2_party, rsa_party) -> None:  # type: ignore[no-untyped-def]
    party = sm2_party if kind == "sm2" else rsa_party
    pdf = stamp_pdf(contract_pdf(1), party, pdf_subfilter="adbe.pkcs7.detached")
    report = verify(pdf, trusting(party))
    assert report.verdict == "valid"
    assert report.seals[0].extra["subfilter"] == "/adbe.pkcs7.detached"


def test_plain_signature_without_seal_is_a_sign(rsa_party) -> None:
    pdf = pyhanko_sign(contract_pdf(1), rsa_party, "Plain")
    report = verify(pdf, trusting(rsa_party))
    seal = report.seals[0]
    assert seal.id == "Plain" and seal.type == "sign"
    assert seal.checks["integrity"].status == "ok" and seal.checks["signature"].status == "ok"
    assert seal.checks["seal"].code == "NA_SIGN_TYPE" and not seal.checks["seal"].applicable


def test_platform_status_lookup(sm2_party) -> None:
    calls = []

    def lookup(esid, signed_at):  # type: ignore[no-untyped-def]
        calls.append((esid, signed_at))
        return Check.failed("revoked on the platform")

    report = verify(
        stamp_pdf(contract_pdf(1), sm2_party),
        VerifyOptions(trust_anchors=[sm2_party.root], status_lookup=lookup),
    )
    assert calls and calls[0][0] == "11010000SM20001" and calls[0][1] is not None
    assert report.seals[0].checks["platform_status"].status == "failed"
    assert report.verdict == "invalid"


def test_signing_time_outside_the_certificate_is_failed(seal_maker, seal_picture) -> None:
    # The seal is valid for 30 days back, the signer certificate only from NOW - 1 day (conftest).
    party = make_party("sm2", seal_maker, seal_picture, valid_start=NOW - timedelta(days=30))
    inside = verify(stamp_pdf(contract_pdf(1), party, signed_at=NOW - timedelta(hours=12)), trusting(party))
    assert inside.verdict == "valid", inside.to_dict()
    before = verify(stamp_pdf(contract_pdf(1), party, signed_at=NOW - timedelta(days=3)), trusting(party))
    seal = before.seals[0]
    assert seal.checks["certificate"].status == "failed", seal.checks["certificate"]
    assert seal.checks["certificate"].code == "CERT_NOT_YET_VALID_AT_SIGNING"
    assert seal.checks["seal"].status == "ok"  # the seal itself was valid then: only the certificate fails
    assert before.verdict == "invalid"


def test_unsigned_and_garbage() -> None:
    assert verify(contract_pdf(1)).verdict == "no_seals"
    for garbage in (b"", b"hello", b"%PDF-1.4\n%%EOF", b"PK\x03\x04 not a pdf"):
        with pytest.raises(SealBridgeError) as err:
            verify(garbage)
        assert err.value.code == "DOC_MALFORMED"


def test_damaged_contents_is_a_failed_seal_not_a_crash(sm2_party) -> None:
    pdf = bytearray(stamp_pdf(contract_pdf(1), sm2_party))
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    pdf[start : start + 8] = b"00000000"
    report = verify(bytes(pdf), trusting(sm2_party))
    assert report.verdict == "invalid"
    assert report.seals[0].checks["signature"].status == "failed"


# --- PAdES B-T against a real HTTP timestamp server (pyHanko's DummyTimeStamper behind http.server) ---


@pytest.mark.parametrize("kind", ["rsa", "sm2"])
def test_pades_b_t_with_a_local_tsa(tsa, kind, rsa_party, sm2_party) -> None:  # type: ignore[no-untyped-def]
    url, tsa_root = tsa
    party = rsa_party if kind == "rsa" else sm2_party
    pdf = stamp_pdf(contract_pdf(1), party, timestamper=HttpTimeStamper(url))
    report = verify(pdf, VerifyOptions(trust_anchors=[party.root, tsa_root]))
    seal = report.seals[0]
    assert seal.checks["timestamp"].status == "ok", seal.checks["timestamp"]
    assert report.verdict == "valid"
    # without the TSA's root the timestamp verifies but is not trusted
    report = verify(pdf, trusting(party))
    assert report.seals[0].checks["timestamp"].status == "unknown"


def test_unreachable_tsa(rsa_party) -> None:
    with pytest.raises(SealBridgeError) as err:
        stamp_pdf(contract_pdf(1), rsa_party, timestamper=HttpTimeStamper("http://127.0.0.1:9/tsa"))
    assert err.value.code == "TSA_UNREACHABLE"


def test_lock_refuses_later_seals(sm2_party) -> None:
    pdf = stamp_pdf(contract_pdf(2), sm2_party, [At(1, 50, 50), At(2, 50, 50)], lock=True)
    report = verify(pdf, trusting(sm2_party))
    assert [s.verdict for s in report.seals] == ["valid", "valid"], report.to_dict()
    assert report.seals[1].extra.get("locked") is True and not report.seals[0].extra.get("locked")
    with pytest.raises(SealBridgeError) as err:
        stamp_pdf(pdf, sm2_party)
    assert err.value.code == "DOC_LOCKED"
    assert verify(append_page(pdf), trusting(sm2_party)).verdict == "invalid"


def _as_gmt0010(pdf: bytes, party) -> bytes:  # type: ignore[no-untyped-def]
    """Rewrite our SM2 CMS the way Chinese CAs encode it (GM/T 0010 / GB/T 35275): GM content types,
    digestEncryptionAlgorithm SM2-1 (1.2.156.10197.1.301.1), re-signed; /Contents is outside the range."""
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    end = pdf.index(b">", start)
    info = cms.ContentInfo.load(first_element(bytes.fromhex(pdf[start:end].decode("ascii"))))
    signed_data = info["content"]
    signer_info = signed_data["signer_infos"][0]
    # GM/T 0010 signers write contentType, signingTime and messageDigest (no algorithm protection)
    attrs = [a for a in signer_info["signed_attrs"] if a["type"].native != "cms_algorithm_protection"]
    for attr in attrs:
        if attr["type"].native == "content_type":
            attr["values"] = [cms.ContentType("1.2.156.10197.6.1.4.2.1")]
    signer_info["signed_attrs"] = cms.CMSAttributes(attrs)
    signer_info["signature_algorithm"] = {"algorithm": "1.2.156.10197.1.301.1"}
    signer_info["signature"] = party.signer.sign(signer_info["signed_attrs"].untag().dump())
    signed_data["encap_content_info"] = {"content_type": "1.2.156.10197.6.1.4.2.1"}
    gm = (
        cms.ContentInfo({"content_type": "1.2.156.10197.6.1.4.2.2", "content": signed_data})
        .dump()
        .hex()
        .encode()
    )
    assert len(gm) <= end - start
    return pdf[:start] + gm + b"0" * (end - start - len(gm)) + pdf[end:]


def test_gmt0010_cms_inside_a_pdf_verifies(sm2_party) -> None:
    pdf = _as_gmt0010(stamp_pdf(contract_pdf(1), sm2_party, pdf_subfilter="adbe.pkcs7.detached"), sm2_party)
    report = verify(pdf, trusting(sm2_party))
    seal = report.seals[0]
    assert seal.extra["signature_algorithm"] == "sm2_1"
    assert report.verdict == "valid", report.to_dict()


def test_comment_added_after_signing_fails_changes_after(rsa_party) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(stamp_pdf(contract_pdf(1), rsa_party)))
    page_ref, _ = writer.find_page_for_modification(0)
    note = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
            generic.pdf_name("/Rect"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (100, 100, 120, 120)]
            ),
            generic.pdf_name("/Contents"): generic.TextStringObject("金额改为 100 万"),
        }
    )
    writer.register_annotation(page_ref, writer.add_object(note))
    out = io.BytesIO()
    writer.write(out)
    seal = verify(out.getvalue(), trusting(rsa_party)).seals[0]
    assert seal.checks["changes_after"].status == "failed"
    assert seal.checks["changes_after"].code == "CHANGES_NOT_ALLOWED"
    assert seal.checks["changes_after"].reasons[0].params["level"] in ("ANNOTATIONS", "SUSPICIOUS")


def _forge_same_name_signature(pdf: bytes) -> bytes:
    """An incremental update adding a garbage signature under the SAME field name as the genuine one,
    listed first in /AcroForm /Fields (a name-keyed lookup then lands on the genuine field twice)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    acroform = writer.root["/AcroForm"]
    fields = acroform["/Fields"]
    name = fields[0].get_object()["/T"]
    value = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Sig"),
            generic.pdf_name("/Filter"): generic.pdf_name("/Adobe.PPKLite"),
            generic.pdf_name("/SubFilter"): generic.pdf_name("/ETSI.CAdES.detached"),
            generic.pdf_name("/ByteRange"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 10, 20, 10)]
            ),
            generic.pdf_name("/Contents"): generic.ByteStringObject(b"\x30\x00" + bytes(100)),
        }
    )
    forged = writer.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/FT"): generic.pdf_name("/Sig"),
                generic.pdf_name("/T"): name,
                generic.pdf_name("/V"): writer.add_object(value),
            }
        )
    )
    acroform["/Fields"] = generic.ArrayObject([forged, *fields])
    writer.update_container(acroform)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_forged_signature_sharing_a_field_name_is_checked_itself(sm2_party) -> None:
    pdf = _forge_same_name_signature(stamp_pdf(contract_pdf(1), sm2_party))
    report = verify(pdf, trusting(sm2_party))
    assert len(report.seals) == 2
    forged = [s for s in report.seals if s.extra["pages"] == []]  # the forged field has no widget
    genuine = [s for s in report.seals if s.extra["pages"] == [1]]
    # The garbage signature is judged on its own bytes, never reported with the genuine one's result.
    assert len(forged) == 1 and len(genuine) == 1, report.to_dict()
    assert forged[0].checks["signature"].status == "failed", forged[0].checks
    assert forged[0].checks["integrity"].status == "failed", forged[0].checks
    assert genuine[0].checks["signature"].status == "ok"
    assert report.verdict == "invalid"


def test_a_document_asking_for_too_many_revision_comparisons_is_refused_at_once(ecdsa_party) -> None:
    """pyHanko compares each signed revision with every later one: 120 signatures ask for 7,140 comparisons
    (25 s of checking here). Over MAX_REVISION_COMPARISONS the document is refused by its code, naming what
    it asks for, before any is made; 60 signatures (1,770) are checked as ever."""
    from stamping.pdf.verify import MAX_REVISION_COMPARISONS

    spots = [At(1, 20 + (i % 8) * 20, 20 + (i // 8) * 30) for i in range(60)]
    sixty = stamp_pdf(contract_pdf(1), ecdsa_party, spots)
    assert 60 * 59 // 2 <= MAX_REVISION_COMPARISONS < 120 * 119 // 2
    assert [s.verdict for s in verify(sixty, trusting(ecdsa_party)).seals] == ["valid"] * 60
    pdf = stamp_pdf(sixty, ecdsa_party, spots)
    with pytest.raises(SealBridgeError) as err:
        verify(pdf, trusting(ecdsa_party))
    assert err.value.code == "DOC_TOO_LARGE"
    assert "120 signatures over 121 revisions: 7140 comparisons" in (err.value.detail or "")
