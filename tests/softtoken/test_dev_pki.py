"""`make_dev_pki` / `sealbridge dev-pki`: the exact layout, certificates, seals and soft tokens."""

from __future__ import annotations

import io
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from PIL import Image

from agent.devpki import COMPANY, make_dev_pki
from formats.errors import SealBridgeError
from formats.gm.keys import key_matches_cert, load_private_key, verify_signature
from formats.ses import SealKind, parse_seal, verify_maker
from formats.uscc import with_check_character

EXPECTED_FILES = {
    "ca/root.pem",
    "ca/rsa-root.pem",
    "ca/ecdsa-root.pem",
    *(f"keys/{n}-signer.{part}.pem" for n in ("sm2", "sm2b", "ecdsa", "rsa") for part in ("key", "cert")),
    "keys/maker.key.pem",
    "keys/maker.cert.pem",
    *(f"seals/{n}.esl" for n in ("sm2", "sm2b", "ecdsa", "rsa")),
    *(f"tokens/{n}.soft" for n in ("sm2", "ecdsa", "rsa")),
    "tokens/PIN",
    *(
        f"skf/SealBridge-SoftSKF-1/{rel}"
        for rel in (
            "serial",
            "SealBridge/user.pin",
            "SealBridge/admin.pin",
            "SealBridge/containers/sm2-signer/sign.key",
            "SealBridge/containers/sm2-signer/sign.cer",
            "SealBridge/files/sealbridge.seals",
        )
    ),
}
ROOT_OF = {"sm2": "root.pem", "sm2b": "root.pem", "ecdsa": "ecdsa-root.pem", "rsa": "rsa-root.pem"}
ALGORITHM_OF = {"sm2": "sm2", "sm2b": "sm2", "ecdsa": "ecdsa", "rsa": "rsa"}


def _cert(path: Path) -> asn1_x509.Certificate:
    kind, _headers, der = pem.unarmor(path.read_bytes())
    assert kind == "CERTIFICATE"
    return asn1_x509.Certificate.load(der)


def _check_issued_by(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> None:
    assert cert.issuer == issuer.subject
    assert verify_signature(
        issuer,
        cert["signature_algorithm"],
        cert["tbs_certificate"].dump(),
        cert["signature_value"].native,
    )


def test_layout_is_exact(dev_pki):
    found = {str(p.relative_to(dev_pki.dir)) for p in dev_pki.dir.rglob("*") if p.is_file()}
    assert found == EXPECTED_FILES
    assert {str(p.relative_to(dev_pki.dir)) for p in dev_pki.files} == EXPECTED_FILES
    assert dev_pki.root == dev_pki.dir / "ca" / "root.pem"
    assert dev_pki.pin_file.read_text().strip() == dev_pki.pin
    assert len(dev_pki.pin) == 6 and dev_pki.pin.isdigit()
    for rel in EXPECTED_FILES:
        if rel.endswith(".key.pem") or rel.startswith("tokens/"):
            assert stat.S_IMODE(os.stat(dev_pki.dir / rel).st_mode) == 0o600, rel


def test_roots_are_self_signed_with_their_algorithm(dev_pki):
    for name, sig_alg in (
        ("root.pem", "1.2.156.10197.1.501"),
        ("rsa-root.pem", None),
        ("ecdsa-root.pem", None),
    ):
        root = _cert(dev_pki.dir / "ca" / name)
        assert root.ca and root.self_issued
        _check_issued_by(root, root)
        if sig_alg:
            assert root["signature_algorithm"]["algorithm"].dotted == sig_alg
    assert _cert(dev_pki.dir / "ca" / "rsa-root.pem").public_key.algorithm == "rsa"
    assert _cert(dev_pki.dir / "ca" / "ecdsa-root.pem").public_key.algorithm == "ec"


@pytest.mark.parametrize("name", ["sm2", "sm2b", "ecdsa", "rsa"])
def test_signer_key_and_certificate(dev_pki, name: str):
    cert = _cert(dev_pki.signer_certs[name])
    _check_issued_by(cert, _cert(dev_pki.dir / "ca" / ROOT_OF[name]))
    assert not cert.ca
    assert cert.key_usage_value.native == {"digital_signature", "non_repudiation"}
    lifetime = (
        cert["tbs_certificate"]["validity"]["not_after"].native
        - cert["tbs_certificate"]["validity"]["not_before"].native
    )
    assert timedelta(days=725) <= lifetime <= timedelta(days=735)
    kind, _h, key_der = pem.unarmor(dev_pki.signer_keys[name].read_bytes())
    assert kind == "PRIVATE KEY"  # PKCS#8, unencrypted
    key = load_private_key(key_der)
    assert key_matches_cert(key, cert)
    assert COMPANY in cert.subject.native["organization_name"]


def test_maker_is_sm2_issued_by_sm2_root(dev_pki):
    maker = _cert(dev_pki.maker_cert)
    _check_issued_by(maker, _cert(dev_pki.root))
    assert maker["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert key_matches_cert(load_private_key(dev_pki.maker_key.read_bytes()), maker)


@pytest.mark.parametrize("name", ["sm2", "sm2b", "ecdsa", "rsa"])
def test_seal_is_v4_bound_to_its_signer_and_maker_signed(dev_pki, name: str):
    seal = parse_seal(dev_pki.seals[name].read_bytes())
    assert seal.version == 4
    assert seal.esid == dev_pki.seal_ids[name]
    assert seal.certs == [_cert(dev_pki.signer_certs[name]).dump()]
    assert seal.maker_cert == _cert(dev_pki.maker_cert).dump()
    assert verify_maker(seal)[0] == "ok"
    # Independently of the fast backend: the pure-Python gmssl backend verifies the maker signature.
    assert verify_maker(seal, backend="gmssl")[0] == "ok"
    kind = SealKind[dev_pki.seal_kinds[name]]
    assert seal.type == kind.code
    assert COMPANY in seal.name
    now = datetime.now(UTC)
    assert seal.valid_start <= now < seal.valid_end
    # a transparent red round picture of 42 mm
    assert seal.picture.type.upper() == "PNG"
    assert (seal.picture.width_mm, seal.picture.height_mm) == (42, 42)
    img = Image.open(io.BytesIO(seal.picture.data)).convert("RGBA")
    assert img.getpixel((0, 0))[3] == 0  # corner outside the ring: transparent
    raw = img.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    opaque = [p for p in pixels if p[3] > 200]
    assert opaque and all(
        r > 150 and g < 100 and b < 100 for r, g, b, _a in opaque[:: max(1, len(opaque) // 500)]
    )


def test_dev_seal_kinds(dev_pki):
    assert dev_pki.seal_kinds["sm2"] == "LEGAL_NAME"
    assert dev_pki.seal_kinds["sm2b"] == "CONTRACT"
    assert len(set(dev_pki.seal_ids.values())) == 4


def test_tampered_seal_fails_maker_check(dev_pki):
    der = bytearray(dev_pki.seals["sm2"].read_bytes())
    pos = der.find("示例".encode())
    der[pos] ^= 0x01
    seal = parse_seal(bytes(der))
    assert verify_maker(seal)[0] == "failed"
    assert verify_maker(seal, backend="gmssl")[0] == "failed"


@pytest.mark.parametrize("name", ["sm2", "ecdsa", "rsa"])
def test_token_holds_key_chain_and_seal(dev_pki, name: str):
    from agent.tokens.soft import SoftToken

    token = SoftToken(dev_pki.tokens[name])
    info = token.info()
    cert_der = _cert(dev_pki.signer_certs[name]).dump()
    assert [k.certificate for k in info.keys] == [cert_der]
    assert info.keys[0].algorithm == ALGORITHM_OF[name]
    assert info.keys[0].chain == [_cert(dev_pki.dir / "ca" / ROOT_OF[name]).dump()]
    assert info.seals == [dev_pki.seals[name].read_bytes()]
    signer = token.signer(dev_pki.pin)
    data = b"dev pki token signature"
    sig = signer.sign(data, "sha256")
    alg = {"sm2": "1.2.156.10197.1.501", "ecdsa": "sha256_ecdsa", "rsa": "sha256_rsa"}[name]
    assert verify_signature(cert_der, alg, data, sig)
    # the PKCS#8 key written in keys/ is not in the token file in clear
    _k, _h, key_der = pem.unarmor(dev_pki.signer_keys[name].read_bytes())
    assert key_der not in dev_pki.tokens[name].read_bytes()


def test_refuses_non_empty_dir_unless_forced(tmp_path: Path):
    target = tmp_path / "pki"
    target.mkdir()
    (target / "something").write_text("x")
    with pytest.raises(SealBridgeError) as exc:
        make_dev_pki(target)
    assert exc.value.code == "CONFLICT"
    assert sorted(p.name for p in target.iterdir()) == ["something"]
    pki = make_dev_pki(target, force=True)
    assert (target / "ca" / "root.pem").is_file() and pki.tokens["sm2"].is_file()


def test_uscc_check_digit():
    # A published example code (GB 32100-2015 check character).
    assert with_check_character("91350100M000100Y4") == "91350100M000100Y43"
