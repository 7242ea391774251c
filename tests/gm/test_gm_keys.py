"""Key, certificate and PKCS#12 loading, on the shared samples and on files made by other tools."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from asn1crypto import pem
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as cpkcs12

from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SIGN, OID_SM2_SM3, SM2PrivateKey, SM2PublicKey
from formats.gm.keys import (
    cert_public_key,
    key_algorithm,
    key_matches_cert,
    load_certificate,
    load_certificates,
    load_pkcs12,
    load_private_key,
    verify_signature,
)

P12_SAMPLES = [
    ("ofdrw-user.p12", "777777"),
    ("ofdrw-sealbuilder.p12", "777777"),
    ("ofdrw-root.p12", "123456"),
]


def _cert_signed_by(cert_der: bytes, issuer) -> bool:
    cert = load_certificate(cert_der)
    return verify_signature(
        issuer, cert["signature_algorithm"], cert["tbs_certificate"].dump(), cert["signature_value"].native
    )


@pytest.mark.parametrize("name,password", P12_SAMPLES)
def test_sample_pkcs12_opens_and_key_signs(pki, name, password):
    key, cert, chain = load_pkcs12((pki / name).read_bytes(), password)
    assert isinstance(key, SM2PrivateKey)
    assert key_matches_cert(key, cert)
    assert isinstance(chain, list)
    sig = key.sign(b"sample data")
    assert verify_signature(cert, OID_SM2_SM3, b"sample data", sig)
    assert verify_signature(cert, OID_SM2_SIGN, b"sample data", sig)
    assert not verify_signature(cert, OID_SM2_SM3, b"other data", sig)


def test_ofdrw_user_key_has_the_gmssl_trap_prefix(pki):
    # X starts with hex '0': the key gmssl's lstrip("04") would corrupt; both backends must still work.
    key, cert, _ = load_pkcs12((pki / "ofdrw-user.p12").read_bytes(), "777777")
    assert f"{key.public_key.x:064x}".startswith("0")
    for signer in ("tongsuo", "gmssl"):
        for verifier in ("tongsuo", "gmssl"):
            assert key.public_key.verify(b"d", key.sign(b"d", backend=signer), backend=verifier)


def test_ofdrw_certificates_chain_to_ofdrw_root(pki):
    _, root, _ = load_pkcs12((pki / "ofdrw-root.p12").read_bytes(), "123456")
    assert _cert_signed_by(root, root)
    for name in ("ofdrw-user.p12", "ofdrw-sealbuilder.p12"):
        _, cert, _ = load_pkcs12((pki / name).read_bytes(), "777777")
        assert _cert_signed_by(cert, root)
        assert not _cert_signed_by(cert, cert)


@pytest.mark.parametrize("name,password", P12_SAMPLES)
def test_wrong_pkcs12_password(pki, name, password):
    with pytest.raises(SealBridgeError) as err:
        load_pkcs12((pki / name).read_bytes(), password + "0")
    assert err.value.code == "PASSWORD_INCORRECT"


@pytest.mark.parametrize(
    "key_file,cert_file",
    [
        ("ofdrw-sign-key.pem", "ofdrw-sign-cert.pem"),
        ("ofdpdfsigner-sealuser-key.der", "ofdpdfsigner-sealuser.cer"),
    ],
)
def test_sample_sec1_keys_match_their_certificates(pki, key_file, cert_file):
    key = load_private_key((pki / key_file).read_bytes())
    cert = (pki / cert_file).read_bytes()
    assert isinstance(key, SM2PrivateKey)
    assert isinstance(cert_public_key(cert), SM2PublicKey)
    assert key_matches_cert(key, cert)
    assert verify_signature(cert, OID_SM2_SM3, b"x", key.sign(b"x"))


def test_gmssl_roots_load_and_self_signed_ones_verify(pki):
    roots = sorted((pki / "gmssl-roots").glob("*.pem"))
    assert roots
    self_signed = 0
    for path in roots:
        for cert in load_certificates(path.read_bytes()):
            assert isinstance(cert_public_key(cert), SM2PublicKey)
            if cert.self_signed == "maybe":
                self_signed += 1
                assert _cert_signed_by(cert.dump(), cert)
    assert self_signed >= 1


def test_sm2_key_round_trips_through_our_encodings():
    key = SM2PrivateKey.generate()
    for blob in (
        key.to_pkcs8_der(),
        key.to_pkcs8_pem(),
        key.to_sec1_der(),
        pem.armor("EC PRIVATE KEY", key.to_sec1_der()),
    ):
        loaded = load_private_key(blob)
        assert isinstance(loaded, SM2PrivateKey) and loaded.private_value == key.private_value


def test_sec1_with_wrong_public_point_is_refused():
    from asn1crypto import keys as ak

    key, other = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    ec_key = ak.ECPrivateKey.load(key.to_sec1_der())
    forged = ak.ECPrivateKey(
        {
            "version": 1,
            "private_key": key.private_value,
            "parameters": ec_key["parameters"],
            "public_key": other.public_key.point,
        }
    )
    with pytest.raises(SealBridgeError) as err:
        load_private_key(forged.dump())
    assert err.value.code == "DOC_MALFORMED"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_encrypted_pkcs8_and_pkcs12(tmp_path, sm2_pki):
    key = sm2_pki.leaf.key
    (tmp_path / "k.pem").write_bytes(key.to_pkcs8_pem())
    (tmp_path / "c.pem").write_bytes(pem.armor("CERTIFICATE", sm2_pki.leaf.cert))
    (tmp_path / "ca.pem").write_bytes(pem.armor("CERTIFICATE", sm2_pki.root.cert))
    run = lambda *a: subprocess.run(["openssl", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("pkcs8", "-topk8", "-in", "k.pem", "-out", "enc.pem", "-v2", "aes-256-cbc", "-passout", "pass:s3cret")
    loaded = load_private_key((tmp_path / "enc.pem").read_bytes(), "s3cret")
    assert loaded.private_value == key.private_value
    with pytest.raises(SealBridgeError) as err:
        load_private_key((tmp_path / "enc.pem").read_bytes(), "wrong")
    assert err.value.code == "PASSWORD_INCORRECT"
    run(
        "pkcs12",
        "-export",
        "-inkey",
        "k.pem",
        "-in",
        "c.pem",
        "-certfile",
        "ca.pem",
        "-out",
        "p.p12",
        "-passout",
        "pass:pw",
    )
    k, c, chain = load_pkcs12((tmp_path / "p.p12").read_bytes(), "pw")
    assert k.private_value == key.private_value and c == sm2_pki.leaf.cert and chain == [sm2_pki.root.cert]
    # An empty password (MAC key from two zero bytes) and a file without MAC.
    run("pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "e.p12", "-passout", "pass:")
    assert load_pkcs12((tmp_path / "e.p12").read_bytes(), "")[0].private_value == key.private_value
    assert load_pkcs12((tmp_path / "e.p12").read_bytes(), None)[1] == sm2_pki.leaf.cert
    run(
        "pkcs12",
        "-export",
        "-inkey",
        "k.pem",
        "-in",
        "c.pem",
        "-out",
        "n.p12",
        "-passout",
        "pass:pw",
        "-nomac",
    )
    assert load_pkcs12((tmp_path / "n.p12").read_bytes(), "pw")[0].private_value == key.private_value


@pytest.mark.parametrize("legacy", [False, True])
def test_rsa_and_ec_pkcs12_from_cryptography(rsa_pki, ec_pki, legacy):
    for mini in (rsa_pki, ec_pki):
        enc = cpkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC if legacy else cpkcs12.PBES.PBESv2SHA256AndAES256CBC
        algo = serialization.PrivateFormat.PKCS12.encryption_builder().key_cert_algorithm(enc).build(b"pw")
        blob = cpkcs12.serialize_key_and_certificates(
            b"t",
            mini.leaf.key,
            cx509.load_der_x509_certificate(mini.leaf.cert),
            [cx509.load_der_x509_certificate(mini.root.cert)],
            algo,
        )
        key, cert, chain = load_pkcs12(blob, "pw")
        assert key_matches_cert(key, cert) and cert == mini.leaf.cert and chain == [mini.root.cert]
        assert key_algorithm(key) in ("rsa", "ecdsa")


def test_rsa_and_ec_pem_keys():
    for key in (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    ):
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            for enc in (serialization.Encoding.PEM, serialization.Encoding.DER):
                blob = key.private_bytes(enc, fmt, serialization.NoEncryption())
                loaded = load_private_key(blob)
                assert loaded.private_numbers() == key.private_numbers()
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
        assert load_private_key(encrypted, b"pw").private_numbers() == key.private_numbers()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x30\x03\x02\x01\x00",
    ],
)
def test_garbage_keys_and_certs_are_clean_errors(blob):
    with pytest.raises(SealBridgeError) as err:
        load_private_key(blob)
    assert err.value.code == "DOC_MALFORMED"
    with pytest.raises(SealBridgeError) as err:
        load_certificate(blob)
    assert err.value.code == "DOC_MALFORMED"
    with pytest.raises(SealBridgeError) as err:
        load_pkcs12(blob, "x")
    assert err.value.code == "DOC_MALFORMED"


def test_verify_signature_rsa_ecdsa_and_pss(rsa_pki, ec_pki):
    from asn1crypto import algos
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    data = b"payload"
    rkey, rcert = rsa_pki.leaf.key, rsa_pki.leaf.cert
    for name, h in (
        ("sha1", hashes.SHA1),
        ("sha256", hashes.SHA256),
        ("sha384", hashes.SHA384),
        ("sha512", hashes.SHA512),
    ):
        sig = rkey.sign(data, padding.PKCS1v15(), h())
        assert verify_signature(rcert, f"{name}_rsa", data, sig)
        assert verify_signature(rcert, "rsassa_pkcs1v15", data, sig, digest=name)
        assert not verify_signature(rcert, f"{name}_rsa", data + b"x", sig)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    sig = rkey.sign(data, pss, hashes.SHA256())
    alg = algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                "salt_length": 32,
            },
        }
    )
    assert verify_signature(rcert, alg, data, sig)
    assert not verify_signature(rcert, alg, data + b"x", sig)
    ekey, ecert = ec_pki.leaf.key, ec_pki.leaf.cert
    for name, h in (("sha1", hashes.SHA1), ("sha256", hashes.SHA256), ("sha384", hashes.SHA384)):
        sig = ekey.sign(data, ec.ECDSA(h()))
        assert verify_signature(ecert, f"{name}_ecdsa", data, sig)
        assert not verify_signature(rcert, f"{name}_ecdsa", data, sig)  # wrong key type
        assert not verify_signature(ecert, OID_SM2_SM3, data, sig)
    assert not verify_signature(ecert, "sha256_ecdsa", data, b"not a signature")
    assert not verify_signature(ecert, "1.2.3.4", data, b"x")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_generated_sm2_keys(tmp_path):
    run = lambda *a: subprocess.run(["openssl", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("ecparam", "-name", "SM2", "-genkey", "-out", "ecparam.pem")  # "SM2 PARAMETERS" block, then SEC1
    run("genpkey", "-algorithm", "SM2", "-out", "pk8.pem")
    run(
        "pkcs8",
        "-topk8",
        "-in",
        "pk8.pem",
        "-out",
        "legacy.pem",
        "-v1",
        "PBE-SHA1-3DES",
        "-passout",
        "pass:pw",
    )
    run("pkey", "-in", "pk8.pem", "-pubout", "-out", "pub.pem")
    run("pkey", "-in", "pk8.pem", "-outform", "DER", "-out", "pk8.der")
    assert isinstance(load_private_key((tmp_path / "ecparam.pem").read_bytes()), SM2PrivateKey)
    key = load_private_key((tmp_path / "pk8.pem").read_bytes())
    assert load_private_key((tmp_path / "pk8.der").read_bytes()).private_value == key.private_value
    assert load_private_key((tmp_path / "legacy.pem").read_bytes(), "pw").private_value == key.private_value
    _, _, spki = pem.unarmor((tmp_path / "pub.pem").read_bytes())
    assert SM2PublicKey.from_spki_der(spki) == key.public_key


# --- iteration counts come from the file: a hostile one must be refused, not ground through ---------------


def test_pkcs12_with_a_huge_mac_iteration_count_is_refused(pki):
    from asn1crypto import pkcs12 as apkcs12

    pfx = apkcs12.Pfx.load((pki / "ofdrw-user.p12").read_bytes())
    pfx["mac_data"]["iterations"] = 3_000_000  # seconds of pure-Python hashing before the limit existed
    with pytest.raises(SealBridgeError) as exc:
        load_pkcs12(pfx.dump(force=True), "777777")
    assert exc.value.code == "DOC_TOO_LARGE"
    assert "iteration" in exc.value.detail


def test_encrypted_pkcs8_with_a_huge_pbkdf2_iteration_count_is_refused():
    from asn1crypto import keys as akeys

    key = ec.generate_private_key(ec.SECP256R1())
    pem_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    epki = akeys.EncryptedPrivateKeyInfo.load(pem_key)
    assert epki["encryption_algorithm"]["algorithm"].native == "pbes2"
    epki["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]["iteration_count"] = (
        5_000_000
    )
    with pytest.raises(SealBridgeError) as exc:
        load_private_key(epki.dump(force=True), b"pw")
    assert exc.value.code == "DOC_TOO_LARGE"
