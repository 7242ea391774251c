"""SM2-with-SM3: both backends agree, Z is included, encodings, malformed input, OpenSSL interop."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest
from gmssl.sm2 import CryptSM2

from formats.gm import (
    SM2PrivateKey,
    SM2PublicKey,
    available_backends,
    der_to_raw,
    raw_to_der,
    sm2_digest,
    sm3,
    to_der,
)
from formats.gm.curve import N
from formats.gm.sigcodec import decode_der, encode_der

BACKENDS = ["tongsuo", "gmssl"]


def _need_both():
    missing = [b for b in BACKENDS if b not in available_backends()]
    if missing:
        pytest.skip(f"backend not installed: {missing}")


def _key_with_x_prefix(prefixes: tuple[str, ...], tries: int = 20000) -> SM2PrivateKey:
    for _ in range(tries):
        key = SM2PrivateKey.generate()
        if f"{key.public_key.x:064x}".startswith(prefixes):
            return key
    raise AssertionError("no key found")  # pragma: no cover - probability ~0


@pytest.fixture(scope="module")
def keys() -> list[SM2PrivateKey]:
    # Keys whose X starts with hex "04", "0" and "4" are the ones gmssl's lstrip("04") would corrupt.
    return [
        _key_with_x_prefix(("04",)),
        _key_with_x_prefix(("0",)),
        _key_with_x_prefix(("4",)),
        SM2PrivateKey.generate(),
        SM2PrivateKey.generate(),
    ]


def test_available_backends_lists_known_names():
    names = available_backends()
    assert names and set(names) <= set(BACKENDS)


@pytest.mark.parametrize("signer", BACKENDS)
@pytest.mark.parametrize("verifier", BACKENDS)
def test_backends_verify_each_other(keys, signer, verifier):
    _need_both()
    for key in keys:
        msg = os.urandom(100)
        sig = key.sign(msg, backend=signer)
        decode_der(sig)  # sign emits strict DER
        assert key.public_key.verify(msg, sig, backend=verifier)
        assert key.public_key.verify(msg, der_to_raw(sig), backend=verifier)  # raw r‖s accepted
        assert not key.public_key.verify(msg + b"!", sig, backend=verifier)
        other = SM2PrivateKey.generate().public_key
        assert not other.verify(msg, sig, backend=verifier)


def test_gmssl_own_z_computation_accepts_our_signatures(keys):
    """gmssl's verify_with_sm3 computes Z itself (independently of curve.py)."""
    for key in keys:
        msg = b"independent check"
        sig = key.sign(msg)
        crypt = CryptSM2(private_key="", public_key="")
        crypt.public_key = key.public_key.point[1:].hex()
        assert crypt.verify_with_sm3(der_to_raw(sig).hex(), msg)


def test_public_point_is_the_same_from_both_backends(keys):
    _need_both()
    for key in keys[:3]:
        assert SM2PrivateKey(key.private_value, backend="gmssl").public_key == key.public_key


@pytest.mark.parametrize("backend", BACKENDS)
def test_signature_without_z_does_not_verify(backend):
    _need_both()
    key = SM2PrivateKey.generate()
    msg = b"message"
    crypt = CryptSM2(private_key=f"{key.private_value:064x}", public_key="")
    crypt.public_key = key.public_key.point[1:].hex()

    def raw_sign(e: bytes) -> bytes:
        raw = crypt.sign(e, f"{secrets.randbelow(N - 1) + 1:064x}")
        return bytes.fromhex(raw)

    no_z = raw_sign(sm3(msg))  # e = SM3(M): what a signer that forgets Z produces
    with_z = raw_sign(sm2_digest(key.public_key.x, key.public_key.y, msg))
    assert not key.public_key.verify(msg, no_z, backend=backend)
    assert key.public_key.verify(msg, with_z, backend=backend)  # the same procedure with Z does verify


@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_signatures_answer_false(backend):
    _need_both()
    key = SM2PrivateKey.generate()
    msg = b"m"
    good = key.sign(msg)
    r, s = decode_der(good)
    bad = [
        b"",
        b"garbage",
        good[:-1],
        good + b"\x00",
        b"\x30\x80" + good[2:] + b"\x00\x00",  # BER indefinite length
        encode_der(0, s),
        encode_der(r, 0),
        encode_der(r, N),
        encode_der(r + N, s),
        encode_der(-r, s),
        bytes(64),
        os.urandom(64),
        b"\xff" * 128,
        os.urandom(71),
    ]
    for sig in bad:
        assert key.public_key.verify(msg, sig, backend=backend) is False, sig.hex()


def test_skf_blob_accepted():
    key = SM2PrivateKey.generate()
    raw = der_to_raw(key.sign(b"skf"))
    blob = bytes(32) + raw[:32] + bytes(32) + raw[32:]
    assert key.public_key.verify(b"skf", blob)
    assert to_der(blob) == raw_to_der(raw)


def test_codecs_round_trip_and_pad():
    assert der_to_raw(encode_der(1, 2)) == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    for _ in range(50):
        raw = os.urandom(64)
        assert der_to_raw(raw_to_der(raw)) == raw
        assert to_der(raw) == raw_to_der(raw)
        assert to_der(raw_to_der(raw)) == raw_to_der(raw)
    with pytest.raises(ValueError):
        der_to_raw(b"\x30\x00")
    with pytest.raises(ValueError):
        raw_to_der(b"\x01\x02\x03")


def test_point_encodings_and_validation():
    key = SM2PrivateKey.generate()
    pub = key.public_key
    x = pub.x.to_bytes(32, "big")
    assert SM2PublicKey.from_point(pub.point) == pub
    assert SM2PublicKey.from_point(pub.point[1:]) == pub
    assert SM2PublicKey.from_point(bytes([2 + (pub.y & 1)]) + x) == pub
    assert SM2PublicKey.from_point((pub.x, pub.y)) == pub
    assert SM2PublicKey.from_spki_der(pub.to_spki_der()) == pub
    with pytest.raises(ValueError):
        SM2PublicKey(pub.x, pub.y + 1)
    with pytest.raises(ValueError):
        SM2PublicKey.from_point(b"\x04" + bytes(10))
    with pytest.raises(ValueError):
        SM2PrivateKey(0)
    with pytest.raises(ValueError):
        SM2PrivateKey(N - 1)


def test_environment_selects_backend(monkeypatch):
    _need_both()
    from formats.gm import default_backend

    monkeypatch.setenv("SEALBRIDGE_SM2_BACKEND", "gmssl")
    assert default_backend() == "gmssl"
    key = SM2PrivateKey.generate()
    assert key.public_key.verify(b"x", key.sign(b"x"))
    monkeypatch.setenv("SEALBRIDGE_SM2_BACKEND", "nonsense")
    with pytest.raises(ValueError):
        default_backend()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_interop(tmp_path):
    key = SM2PrivateKey.generate()
    (tmp_path / "key.pem").write_bytes(key.to_pkcs8_pem())
    (tmp_path / "pub.pem").write_bytes(key.public_key.to_pem())
    (tmp_path / "msg").write_bytes(b"interop message")
    opts = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
    # OpenSSL signs, we verify.
    subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-inkey", "key.pem", "-in", "msg", "-out", "sig.openssl", *opts],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    sig = (tmp_path / "sig.openssl").read_bytes()
    for backend in available_backends():
        assert key.public_key.verify(b"interop message", sig, backend=backend)
    # We sign, OpenSSL verifies.
    for backend in available_backends():
        (tmp_path / "sig.ours").write_bytes(key.sign(b"interop message", backend=backend))
        out = subprocess.run(
            [
                "openssl",
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                "pub.pem",
                "-in",
                "msg",
                "-sigfile",
                "sig.ours",
            ]
            + opts,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0 and "Verified Successfully" in out.stdout, out.stderr
