"""KeySigner is a stamping Signer and its signatures verify with the matching algorithm."""

from __future__ import annotations

import pytest

from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, SM2PrivateKey, verify_signature
from formats.keysigner import KeySigner
from stamping.signer import Signer


@pytest.mark.parametrize(
    "fixture,algorithm,oid_for_digest",
    [
        ("sm2_pki", "sm2", lambda d: OID_SM2_SM3),
        ("rsa_pki", "rsa", lambda d: f"{d}_rsa"),
        ("ec_pki", "ecdsa", lambda d: f"{d}_ecdsa"),
    ],
)
def test_keysigner(request, fixture, algorithm, oid_for_digest):
    mini = request.getfixturevalue(fixture)
    signer = KeySigner(mini.leaf.key, mini.leaf.cert, [mini.root.cert])
    assert isinstance(signer, Signer)
    assert signer.algorithm == algorithm
    assert signer.certificate == mini.leaf.cert and signer.chain == [mini.root.cert]
    for digest in ("sha256", "sha384"):
        sig = signer.sign(b"document bytes", digest)
        assert verify_signature(signer.certificate, oid_for_digest(digest), b"document bytes", sig)
        assert not verify_signature(signer.certificate, oid_for_digest(digest), b"other bytes", sig)


def test_keysigner_refuses_foreign_certificate(sm2_pki):
    with pytest.raises(SealBridgeError) as err:
        KeySigner(SM2PrivateKey.generate(), sm2_pki.leaf.cert)
    assert err.value.code == "CERT_INVALID"


def test_keysigner_rejects_unknown_digest(rsa_pki):
    with pytest.raises(SealBridgeError) as err:
        KeySigner(rsa_pki.leaf.key, rsa_pki.leaf.cert).sign(b"x", "md4")
    assert err.value.code == "MECHANISM_UNSUPPORTED"
