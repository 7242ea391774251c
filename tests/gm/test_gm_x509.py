"""Certificate building for SM2/RSA/ECDSA issuers, checked by our verifier, cryptography and OpenSSL."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import pem
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec

from formats.errors import SealBridgeError
from formats.gm import SM2PrivateKey, load_certificate, verify_signature
from formats.x509 import build_certificate, cert_summary


def _signed_by(cert_der: bytes, issuer) -> bool:
    cert = load_certificate(cert_der)
    return verify_signature(
        issuer, cert["signature_algorithm"], cert["tbs_certificate"].dump(), cert["signature_value"].native
    )


def test_sm2_chain_verifies(sm2_pki):
    root, leaf = sm2_pki.root.cert, sm2_pki.leaf.cert
    assert _signed_by(root, root)
    assert _signed_by(leaf, root)
    assert not _signed_by(leaf, leaf)
    cert = load_certificate(leaf)
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert cert.issuer == load_certificate(root).subject
    assert cert.authority_key_identifier == load_certificate(root).key_identifier
    assert cert.ca is False and load_certificate(root).ca is True
    assert load_certificate(root).max_path_length == 0
    assert cert.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert cert.extended_key_usage_value.native == ["email_protection"]


def test_tampered_tbs_does_not_verify(sm2_pki):
    cert = load_certificate(sm2_pki.leaf.cert)
    tbs = bytearray(cert["tbs_certificate"].dump())
    tbs[-5] ^= 1
    assert not verify_signature(
        sm2_pki.root.cert, "1.2.156.10197.1.501", bytes(tbs), cert["signature_value"].native
    )


@pytest.mark.parametrize("fixture", ["rsa_pki", "ec_pki"])
def test_rsa_and_ec_chains_verify_in_cryptography(request, fixture):
    mini = request.getfixturevalue(fixture)
    root = cx509.load_der_x509_certificate(mini.root.cert)
    leaf = cx509.load_der_x509_certificate(mini.leaf.cert)
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert _signed_by(mini.leaf.cert, mini.root.cert)
    assert leaf.extensions.get_extension_for_class(cx509.BasicConstraints).value.ca is False
    assert (
        leaf.extensions.get_extension_for_class(cx509.AuthorityKeyIdentifier).value.key_identifier
        == root.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
    )


def test_mixed_issuers(sm2_pki, ec_pki):
    # An ECDSA CA certifying an SM2 key, and an SM2 CA certifying an ECDSA key.
    sm2_leaf_key = SM2PrivateKey.generate()
    cert = build_certificate(
        {"common_name": "mixed"}, sm2_leaf_key.public_key, ec_pki.root.cert, ec_pki.root.key
    )
    assert _signed_by(cert, ec_pki.root.cert)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cert2 = build_certificate(
        {"common_name": "mixed2"}, ec_key.public_key(), sm2_pki.root.cert, sm2_pki.root.key
    )
    assert _signed_by(cert2, sm2_pki.root.cert)
    assert cert_summary(cert2)["key_algorithm"] == "ecdsa"


def test_refuses_mismatched_keys(sm2_pki):
    other = SM2PrivateKey.generate()
    with pytest.raises(SealBridgeError) as err:
        build_certificate({"common_name": "x"}, other.public_key, sm2_pki.root.cert, other)
    assert err.value.code == "CERT_INVALID"
    with pytest.raises(SealBridgeError):
        build_certificate({"common_name": "x"}, other.public_key, None, sm2_pki.root.key)


def test_validity_and_serial_are_honoured(sm2_pki):
    nb = datetime(2024, 1, 1, tzinfo=UTC)
    na = datetime(2055, 1, 1, tzinfo=UTC)  # after 2049: GeneralizedTime
    key = SM2PrivateKey.generate()
    der = build_certificate(
        {"common_name": "t"},
        key,
        sm2_pki.root.cert,
        sm2_pki.root.key,
        serial=0x1234,
        not_before=nb,
        not_after=na,
    )
    s = cert_summary(der)
    assert s["serial"] == "1234"
    assert s["not_before"] == "2024-01-01T00:00:00+00:00"
    assert s["not_after"] == "2055-01-01T00:00:00+00:00"
    with pytest.raises(SealBridgeError):
        build_certificate(
            {"common_name": "t"},
            key,
            sm2_pki.root.cert,
            sm2_pki.root.key,
            not_before=nb,
            not_after=nb - timedelta(1),
        )


def test_cert_summary_fields(sm2_pki, rsa_pki, pki):
    s = cert_summary(sm2_pki.leaf.cert)
    assert s["subject_cn"] == "Test SM2 Signer 张三"
    assert s["subject"] == "CN=Test SM2 Signer 张三,O=示例公司,C=CN"
    assert s["issuer_cn"] == "Test SM2 Root"
    assert s["key_algorithm"] == "sm2" and s["key_bits"] == 256
    assert s["signature_algorithm"] == "sm2_sm3"
    assert s["signature_algorithm_oid"] == "1.2.156.10197.1.501"
    assert s["is_ca"] is False
    assert len(s["sha256"]) == 64
    datetime.fromisoformat(s["not_before"])
    r = cert_summary(rsa_pki.root.cert)
    assert r["key_algorithm"] == "rsa" and r["key_bits"] == 2048 and r["is_ca"] is True
    assert r["signature_algorithm"] == "sha256_rsa"
    sample = cert_summary((pki / "ofdpdfsigner-sealuser.cer").read_bytes())
    assert sample["key_algorithm"] == "sm2"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_verifies_sm2_chain(tmp_path, sm2_pki):
    (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", sm2_pki.root.cert))
    (tmp_path / "leaf.pem").write_bytes(pem.armor("CERTIFICATE", sm2_pki.leaf.cert))
    out = subprocess.run(
        ["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", "root.pem", "leaf.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
