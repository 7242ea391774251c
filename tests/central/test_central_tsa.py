"""The platform's RFC 3161 time-stamp service (POST /api/v1/tsa), checked independently of our verifier.

The SM2 token is taken apart with asn1crypto and its signature checked with the pure-Python gmssl SM2
backend (not tongsuopy, which signed it); the ECDSA token with `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request

import pytest
from asn1crypto import cms, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from formats.gm import SM2PublicKey, register_asn1crypto_oids, sm3
from formats.gm.sm2 import available_backends
from stamping.timestamps.reply import TimeStampResp, build_request
from tests.support.central import http, start_central

POLICY = "2.25.255252260694207061959094337223095584223"


def _post(url: str, body: bytes, content_type: str = "application/timestamp-query") -> tuple[int, str, bytes]:
    req = urllib.request.Request(
        f"{url}/api/v1/tsa", data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read()


def _platform_certs(url: str) -> dict[str, bytes]:
    code, body = http("GET", f"{url}/api/v1/platform")
    assert code == 200
    by_sha = {c["sha256"]: base64.b64decode(c["der"]) for c in body["certificates"]}
    return {role: by_sha[sha] for role, sha in body["current"].items()}


def _granted(url: str, digest: bytes, hash_name: str, nonce: int) -> cms.ContentInfo:
    code, kind, body = _post(url, build_request(digest, hash_name, nonce))
    assert code == 200 and kind == "application/timestamp-reply"
    resp = TimeStampResp.load(body)
    assert resp["status"]["status"].native == "granted"
    return resp["time_stamp_token"]


def _parts(token: cms.ContentInfo) -> tuple[bytes, tsp.TSTInfo, cms.SignerInfo, list[x509.Certificate]]:
    signed = token["content"]
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    tst_der = signed["encap_content_info"]["content"].contents
    signer = signed["signer_infos"][0]
    sid = signer["sid"].chosen
    certs = [c.chosen for c in signed["certificates"]]
    # the signer's certificate first (the SET's order is by encoding)
    certs.sort(key=lambda c: c.serial_number != sid["serial_number"].native)
    return tst_der, tsp.TSTInfo.load(tst_der), signer, certs


def _attr(signer: cms.SignerInfo, name: str):  # type: ignore[no-untyped-def]
    return next(a["values"][0] for a in signer["signed_attrs"] if a["type"].native == name)


def test_sm2_token_in_the_gmt0033_profile_checked_with_gmssl(central) -> None:
    register_asn1crypto_oids()
    assert "gmssl" in available_backends()
    url, _, _ = central
    roots = _platform_certs(url)
    covered = b"the signature value of a seal"
    token = _granted(url, sm3(covered), "sm3", 123456789)
    tst_der, tst, signer, certs = _parts(token)
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert tst["message_imprint"]["hashed_message"].native == sm3(covered)
    assert tst["nonce"].native == 123456789 and tst["policy"].native == POLICY
    assert signer["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signer["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert _attr(signer, "message_digest").native == sm3(tst_der)
    tsa_cert = certs[0]
    assert tsa_cert.dump() == roots["tsa-sm2"]
    assert "extended_key_usage" in tsa_cert.critical_extensions
    assert tsa_cert.extended_key_usage_value.native == ["time_stamping"]
    signed_attrs = b"\x31" + signer["signed_attrs"].dump()[1:]
    tsa_key = SM2PublicKey.from_spki(tsa_cert.public_key)
    assert tsa_key.verify(signed_attrs, signer["signature"].native, backend="gmssl")
    assert not tsa_key.verify(signed_attrs + b"x", signer["signature"].native, backend="gmssl")
    # the TSA certificate is issued by the platform's SM2 root
    root = x509.Certificate.load(roots["root-sm2"])
    assert tsa_cert.issuer == root.subject
    tbs = tsa_cert["tbs_certificate"].dump()
    assert SM2PublicKey.from_spki(root.public_key).verify(tbs, tsa_cert.signature, backend="gmssl")


def test_sha256_token_signed_with_ecdsa(central) -> None:
    url, _, _ = central
    roots = _platform_certs(url)
    digest = hashlib.sha256(b"a PAdES signature value").digest()
    tst_der, tst, signer, certs = _parts(_granted(url, digest, "sha256", 42))
    assert tst["message_imprint"]["hashed_message"].native == digest and tst["nonce"].native == 42
    assert certs[0].dump() == roots["tsa-ecdsa"]
    assert _attr(signer, "message_digest").native == hashlib.sha256(tst_der).digest()
    key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), certs[0].public_key["public_key"].native
    )
    key.verify(
        signer["signature"].native, b"\x31" + signer["signed_attrs"].dump()[1:], ec.ECDSA(hashes.SHA256())
    )


def test_serials_increase_and_every_token_is_audited(central) -> None:
    url, admin, _ = central
    serials, imprints = [], []
    for i in range(6):
        value = f"value {i}".encode()
        digest, name = (sm3(value), "sm3") if i % 2 else (hashlib.sha256(value).digest(), "sha256")
        _, tst, _, _ = _parts(_granted(url, digest, name, i + 1))
        serials.append(tst["serial_number"].native)
        imprints.append(digest.hex())
    assert serials == sorted(serials) and len(set(serials)) == len(serials)
    for serial, imprint in zip(serials, imprints, strict=True):
        code, body = http("GET", f"{url}/api/v1/admin/audit?subject={imprint}", token=admin)
        assert code == 200, body
        (record,) = body["records"]
        assert record["seq"] == serial and record["action"] == "tsa.token"
    code, verdict = http("GET", f"{url}/api/v1/admin/audit/verify", token=admin)
    assert code == 200 and verdict["ok"], verdict


@pytest.mark.parametrize(
    ("body", "fail"),
    [
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (build_request(b"\x00" * 20, "sha1", 1), "bad_alg"),
        (build_request(b"\x00" * 31, "sm3", 1), "bad_data_format"),
    ],
)
def test_bad_requests_get_a_rejection_reply(central, body: bytes, fail: str) -> None:
    url, _, _ = central
    code, kind, reply = _post(url, body)
    assert code == 200 and kind == "application/timestamp-reply"
    status = TimeStampResp.load(reply)["status"]
    assert status["status"].native == "rejection" and fail in status["fail_info"].native


def test_wrong_content_type_is_refused(central) -> None:
    url, _, _ = central
    code, kind, _ = _post(url, build_request(sm3(b"x"), "sm3", 1), "application/octet-stream")
    assert code == 400 and kind == "application/json"


def test_tsa_is_rate_limited_like_the_other_public_calls(tmp_path) -> None:
    url, _, handle = start_central(tmp_path, rate=0.001, burst=2)
    try:
        codes = [_post(url, build_request(sm3(b"x"), "sm3", n))[0] for n in range(3)]
    finally:
        handle.stop()
    assert codes == [200, 200, 429]
