"""Build V4 seals and signatures with fresh keys, verify them (both SM2 backends), break them, refuse misuse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto.core import Boolean

from formats.errors import SealBridgeError
from formats.gm import available_backends, sm3
from formats.gm.keys import load_pkcs12
from formats.picture import draw_round_seal
from formats.ses import (
    SealKind,
    asn1,
    check_seal_usable,
    parse_seal,
    parse_signature,
    signer_in_seal,
    verify_maker,
    verify_signature_value,
)
from formats.ses.build import build_seal_v4, build_signature_v4
from formats.ses.der import parse_der, sequence_of_raw
from tests.support.fresh_python import run_python_ok
from tests.support.ses_pki import T0, Pki, SoftSm2Signer, make_sm2_cert, sha256

PROPERTY = "/Doc_0/Signs/Sign_0/Signature.xml"


def _seal(pki: Pki, **overrides) -> bytes:
    args = dict(
        esid="3213020000001",
        name="宿迁示范科技有限公司合同专用章",
        seal_type=SealKind.CONTRACT.code,
        vid="SealBridge",
        certs=[pki.signer.certificate],
        picture=("PNG", draw_round_seal("宿迁示范科技有限公司", "合同专用章", px_per_mm=4), 42, 42),
        valid_start=T0,
        valid_end=T0 + timedelta(days=365),
        created=T0,
        maker_key=pki.maker_key,
        maker_cert_der=pki.maker_cert,
    )
    args.update(overrides)
    return build_seal_v4(**args)


@pytest.fixture(scope="module")
def seal_der(pki: Pki) -> bytes:
    return _seal(pki)


def _flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def test_built_seal_parses_as_v4_with_every_field(pki: Pki, seal_der: bytes):
    seal = parse_seal(seal_der)
    assert (seal.version, seal.header_version, seal.vid) == (4, 4, "SealBridge")
    assert seal.esid == "3213020000001" and seal.name == "宿迁示范科技有限公司合同专用章"
    assert SealKind.from_type(seal.type) is SealKind.CONTRACT
    assert seal.certs == [pki.signer.certificate] and seal.cert_list_type == 1
    assert seal.created == T0 and seal.valid_start == T0 and seal.valid_end == T0 + timedelta(days=365)
    assert seal.picture.type == "PNG" and (seal.picture.width_mm, seal.picture.height_mm) == (42, 42)
    assert seal.maker_cert == pki.maker_cert
    assert seal.sign_alg_oid == "1.2.156.10197.1.501"
    assert verify_maker(seal)[0] == "ok"
    parse_der(seal_der)  # strictly DER


@pytest.mark.skipif("gmssl" not in available_backends(), reason="gmssl backend missing")
def test_maker_signature_verifies_with_pure_python_gmssl(seal_der: bytes):
    assert verify_maker(parse_seal(seal_der), backend="gmssl") == (
        "ok",
        "maker signature verifies over DER(SES_SealInfo)",
    )


def test_maker_signature_fails_after_one_flipped_byte(seal_der: bytes):
    seal = parse_seal(seal_der)
    name_at = seal_der.index(seal.name.encode("utf-8"))
    broken = parse_seal(_flip(seal_der, name_at + 3))  # still DER, different name bytes
    assert verify_maker(broken)[0] == "failed"
    sig_at = seal_der.rindex(seal.maker_signature) + 10
    assert verify_maker(parse_seal(_flip(seal_der, sig_at)))[0] == "failed"


def test_maker_verification_is_over_original_bytes_not_a_re_encoding(pki: Pki, seal_der: bytes):
    """An ExtData with critical FALSE written out (not DER-canonical for a DEFAULT) still verifies."""
    tree = parse_der(seal_der)
    info = tree.children[0]
    ext = sequence_of_raw(
        sequence_of_raw(bytes.fromhex("06032a0304"), Boolean(False).dump(force=True), bytes.fromhex("0401ff"))
    )
    info_der = sequence_of_raw(*(child.raw(seal_der) for child in info.children), ext)
    reencoded = asn1.SealInfoV4.load(info_der).dump(force=True)
    assert reencoded != info_der  # asn1crypto drops the DEFAULT value: re-encoding would break the signature
    signature = pki.maker_key.sign(info_der)
    from asn1crypto.core import OctetBitString

    der = sequence_of_raw(
        info_der, *(c.raw(seal_der) for c in tree.children[1:3]), OctetBitString(signature).dump()
    )
    seal = parse_seal(der)
    assert seal.ext_datas[0].oid == "1.2.3.4" and seal.ext_datas[0].critical is False
    assert verify_maker(seal)[0] == "ok"


def test_built_signature_verifies_and_embeds_the_seal_verbatim(pki: Pki, seal_der: bytes):
    data_hash = sm3(b"<ofd:Signature/>")
    der = build_signature_v4(
        seal_der=seal_der,
        data_hash=data_hash,
        property_info=PROPERTY,
        signer=pki.signer,
        signed_at=T0 + timedelta(days=2, microseconds=5),
    )
    sig = parse_signature(der)
    assert sig.version == 4 and sig.tbs_version == 4
    assert sig.seal.der == seal_der and seal_der in sig.tbs_der
    assert sig.data_hash == data_hash and sig.property_info == PROPERTY
    assert sig.time == T0 + timedelta(days=2) and sig.time_text == "20250103000000Z"
    assert sig.signer_cert == pki.signer.certificate
    assert verify_signature_value(sig)[0] == "ok"
    if "gmssl" in available_backends():
        assert verify_signature_value(sig, backend="gmssl")[0] == "ok"
    assert signer_in_seal(sig.seal, sig.signer_cert)
    # one flipped bit of dataHash: still DER, signature fails
    hash_at = der.index(data_hash)
    assert verify_signature_value(parse_signature(_flip(der, hash_at)))[0] == "failed"


def test_signature_ext_datas_use_an_explicit_context_tag(pki: Pki, seal_der: bytes):
    der = build_signature_v4(
        seal_der=seal_der,
        data_hash=b"\x01" * 32,
        property_info=PROPERTY,
        signer=pki.signer,
        signed_at=T0 + timedelta(days=1),
        ext_datas=[("1.2.156.1", True, b"\x05\x00")],
    )
    sig = parse_signature(der)
    assert [(e.oid, e.critical, e.value) for e in sig.ext_datas] == [("1.2.156.1", True, b"\x05\x00")]
    tbs = parse_der(sig.tbs_der)
    assert tbs.children[-1].tag_class == 2 and tbs.children[-1].tag == 0 and tbs.children[-1].constructed
    assert verify_signature_value(sig)[0] == "ok"


def test_signature_from_a_key_that_does_not_match_its_certificate_is_refused(pki: Pki, seal_der: bytes):
    liar = SoftSm2Signer(pki.other_signer.key, pki.signer.certificate)
    with pytest.raises(SealBridgeError) as info:
        build_signature_v4(
            seal_der=seal_der, data_hash=b"\x00" * 32, property_info=PROPERTY, signer=liar, signed_at=T0
        )
    assert info.value.code == "TOKEN_ERROR"


def test_maker_key_must_match_maker_certificate(pki: Pki):
    with pytest.raises(SealBridgeError) as info:
        _seal(pki, maker_key=pki.signer.key)
    assert info.value.code == "BAD_REQUEST" and "maker key" in info.value.detail


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"esid": "印章一号"}, "ASCII"),
        ({"name": " "}, "name"),
        ({"certs": []}, "certificate"),
        ({"certs": [b"not der"]}, "not DER"),
        ({"valid_end": T0 - timedelta(days=1)}, "validEnd"),
        ({"picture": ("PNG", b"", 42, 42)}, "picture"),
        ({"picture": ("PNG", b"x", 0, 42)}, "out of range"),
        ({"seal_type": -1}, "type"),
    ],
)
def test_bad_build_arguments_are_bad_request(pki: Pki, override, needle):
    with pytest.raises(SealBridgeError) as info:
        _seal(pki, **override)
    assert info.value.code == "BAD_REQUEST" and needle in info.value.detail


def test_v1_seal_cannot_be_used_for_a_v4_signature(pki: Pki, seals_dir: Path):
    with pytest.raises(SealBridgeError) as info:
        build_signature_v4(
            seal_der=(seals_dir / "ofdrw-v1.esl").read_bytes(),
            data_hash=b"\x00" * 32,
            property_info=PROPERTY,
            signer=pki.signer,
            signed_at=T0,
        )
    assert info.value.code == "SEAL_VERSION_UNSUPPORTED"


def test_cert_digest_list_type_2_matches_by_digest(pki: Pki):
    der = _seal(pki, certs=[], cert_digests=[("SHA-256", sha256(pki.signer.certificate))])
    seal = parse_seal(der)
    assert seal.cert_list_type == 2 and seal.certs == []
    assert signer_in_seal(seal, pki.signer.certificate)
    assert not signer_in_seal(seal, pki.other_signer.certificate)
    sm3_seal = parse_seal(_seal(pki, certs=[], cert_digests=[("SM3", sm3(pki.other_signer.certificate))]))
    assert signer_in_seal(sm3_seal, pki.other_signer.certificate)
    assert not signer_in_seal(sm3_seal, pki.signer.certificate)
    # an unclear type string: every known digest is tried
    odd = parse_seal(_seal(pki, certs=[], cert_digests=[("hash", sm3(pki.signer.certificate))]))
    assert signer_in_seal(odd, pki.signer.certificate)


def test_check_seal_usable_paths(pki: Pki, seal_der: bytes):
    seal = parse_seal(seal_der)
    check_seal_usable(seal, pki.signer.certificate, T0 + timedelta(days=30))  # fine
    cases = [
        (pki.signer.certificate, T0 - timedelta(seconds=1), "SEAL_NOT_YET_VALID"),
        (pki.signer.certificate, T0 + timedelta(days=366), "SEAL_EXPIRED"),
        (pki.other_signer.certificate, T0 + timedelta(days=30), "SEAL_NOT_FOR_SIGNER"),
    ]
    for cert, at, code in cases:
        with pytest.raises(SealBridgeError) as info:
            check_seal_usable(seal, cert, at)
        assert info.value.code == code
        assert info.value.extra == {"esID": seal.esid}
    broken = parse_seal(_flip(seal_der, seal_der.index(seal.name.encode("utf-8"))))
    with pytest.raises(SealBridgeError) as info:
        check_seal_usable(broken, pki.signer.certificate, T0 + timedelta(days=30))
    assert info.value.code == "SEAL_INVALID"
    naive = (T0 + timedelta(days=30)).replace(tzinfo=None)
    check_seal_usable(seal, pki.signer.certificate, naive)  # naive times are UTC


def test_real_sample_signer_key_and_certificate_build_a_working_seal(pki: Pki, samples: Path):
    key, cert, _chain = load_pkcs12((samples / "pki" / "ofdrw-user.p12").read_bytes(), "777777")
    signer = SoftSm2Signer(key, cert)
    der = _seal(pki, certs=[cert])
    seal = parse_seal(der)
    check_seal_usable(seal, cert, T0 + timedelta(days=1))
    sig = parse_signature(
        build_signature_v4(
            seal_der=der,
            data_hash=b"\x07" * 32,
            property_info=PROPERTY,
            signer=signer,
            signed_at=T0 + timedelta(days=1),
        )
    )
    assert verify_signature_value(sig)[0] == "ok"


def test_signer_cert_issued_by_other_ca_is_a_different_certificate(pki: Pki, seal_der: bytes):
    """Renewed certificate (same key, new certificate) is not in certList: the seal must be remade."""
    renewed = make_sm2_cert(pki.signer.key, "张三", pki.maker_key, "Test Seal Maker")
    assert renewed != pki.signer.certificate
    assert not signer_in_seal(parse_seal(seal_der), renewed)


def test_rsa_and_ecdsa_signers_and_a_signer_like_maker(pki: Pki):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from formats.keysigner import KeySigner
    from formats.x509 import build_certificate

    maker = KeySigner(pki.maker_key, pki.maker_cert)  # a Signer-like maker instead of a bare key
    for key in (ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)):
        cert = build_certificate({"common_name": "王五"}, key, pki.maker_cert, pki.maker_key)
        signer = KeySigner(key, cert)
        der = _seal(pki, certs=[cert], maker_key=maker)
        assert verify_maker(parse_seal(der))[0] == "ok"
        sig = parse_signature(
            build_signature_v4(
                seal_der=der, data_hash=b"\x09" * 32, property_info=PROPERTY, signer=signer, signed_at=T0
            )
        )
        assert sig.sign_alg_oid in ("1.2.840.10045.4.3.2", "1.2.840.113549.1.1.11")
        assert verify_signature_value(sig)[0] == "ok"
        tampered = bytearray(sig.der)
        tampered[sig.der.index(b"\x09" * 32)] ^= 0xFF
        assert verify_signature_value(parse_signature(bytes(tampered)))[0] == "failed"


def _as_v5(pki: Pki, seal_der: bytes, timestamp: bytes | None) -> bytes:
    """Rewrite a built V4 seal as V5 (header version 5, optional [0] timestamp) and re-sign it."""
    from asn1crypto.core import OctetBitString

    tree = parse_der(seal_der)
    info = tree.children[0]
    header = info.children[0]
    new_header = sequence_of_raw(
        header.children[0].raw(seal_der), bytes.fromhex("020105"), header.children[2].raw(seal_der)
    )
    info_der = sequence_of_raw(new_header, *(c.raw(seal_der) for c in info.children[1:]))
    parts = [info_der, *(c.raw(seal_der) for c in tree.children[1:3])]
    parts.append(OctetBitString(pki.maker_key.sign(info_der)).dump())
    if timestamp is not None:
        bits = OctetBitString(timestamp).dump()
        parts.append(b"\xa0" + bytes([len(bits)]) + bits)
    return sequence_of_raw(*parts)


@pytest.mark.parametrize("timestamp", [None, b"\x30\x03\x02\x01\x01"])
def test_v5_seal_with_and_without_timestamp(pki: Pki, seal_der: bytes, timestamp):
    der = _as_v5(pki, seal_der, timestamp)
    seal = parse_seal(der)
    assert seal.version == 5 and seal.header_version == 5
    assert seal.timestamp == timestamp
    assert verify_maker(seal)[0] == "ok"
    sig = parse_signature(
        build_signature_v4(
            seal_der=der, data_hash=b"\x02" * 32, property_info=PROPERTY, signer=pki.signer, signed_at=T0
        )
    )
    assert sig.version == 5 and sig.tbs_version == 5 and verify_signature_value(sig)[0] == "ok"


def test_raw_r_s_from_a_token_is_written_as_der(pki: Pki, seal_der: bytes):
    from formats.gm import der_to_raw

    class RawSigner(SoftSm2Signer):
        def sign(self, data: bytes, digest: str = "sha256") -> bytes:
            return der_to_raw(self.key.sign(data))  # 64 bytes r||s, as many USB keys return

    raw_signer = RawSigner(pki.signer.key, pki.signer.certificate)
    sig = parse_signature(
        build_signature_v4(
            seal_der=seal_der, data_hash=b"\x03" * 32, property_info=PROPERTY, signer=raw_signer, signed_at=T0
        )
    )
    assert sig.signature[0] == 0x30 and parse_der(sig.signature).children[0].is_universal(2)
    assert verify_signature_value(sig)[0] == "ok"


def test_the_package_loads_the_builder_only_when_a_builder_is_asked_for() -> None:
    """Readers and verifiers import formats.ses without the builder; the package's old names still work."""
    run_python_ok(
        "import sys\n"
        "import formats.ses as ses\n"
        "from formats.ses import parse_seal, verify_maker\n"
        "assert 'formats.ses.build' not in sys.modules\n"
        "from formats.ses import build_seal_v4\n"
        "import formats.ses.build as build\n"
        "assert build_seal_v4 is build.build_seal_v4 and ses.build_signature_v4 is build.build_signature_v4\n"
        "assert set(ses.__all__) <= set(dir(ses)) | {'build_seal_v4', 'build_signature_v4'}\n"
        "try:\n"
        "    ses.no_such_name\n"
        "except AttributeError:\n"
        "    print('ok')\n"
    )
