"""RFC 3161 requests and the checks a stamper makes on a TSA's reply before embedding its token.

The token is refused (TIMESTAMP_FAILED) unless: the status is granted; the imprint is the digest that was
sent, with the same hash; the nonce is the one sent; the TSA certificate is in the token and carries the
critical id-kp-timeStamping EKU (RFC 3161 §2.3); the TSA's signature over the token verifies.
"""

from __future__ import annotations

import secrets

from asn1crypto import algos, cms, core, tsp

from formats.errors import SealBridgeError
from formats.gm import register_asn1crypto_oids
from stamping.timestamps.check import tsa_signature_problem

OID_SM3 = "1.2.156.10197.1.401"


class TimeStampResp(core.Sequence):
    """RFC 3161 §2.4.2 TimeStampResp; asn1crypto's own makes the token mandatory, which a rejection lacks."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def new_nonce() -> int:
    return secrets.randbits(63)


def build_request(digest: bytes, hash_name: str, nonce: int) -> bytes:
    register_asn1crypto_oids()
    alg = OID_SM3 if hash_name == "sm3" else hash_name
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": alg}),
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()


def _refuse(why: str) -> SealBridgeError:
    return SealBridgeError("TIMESTAMP_FAILED", f"the TSA's answer is refused: {why}")


def accept_reply(reply: bytes, digest: bytes, hash_name: str, nonce: int) -> bytes:
    """The DER TimeStampToken from `reply`, once it proves to be a good token for this request."""
    register_asn1crypto_oids()
    try:
        resp = TimeStampResp.load(reply, strict=True)
        status = resp["status"]["status"].native
        token = resp["time_stamp_token"]
        if status not in ("granted", "granted_with_mods"):
            text = resp["status"]["status_string"].native or []
            fail = resp["status"]["fail_info"].native
            raise _refuse(f"status {status} {' '.join(text)} {sorted(fail) if fail else ''}".strip())
        if token.native is None:
            raise _refuse("no token in a granted reply")
        signed = token["content"]
        tst = signed["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]
        got_alg = imprint["hash_algorithm"]["algorithm"].native
        got_digest = imprint["hashed_message"].native
        got_nonce = tst["nonce"].native
    except SealBridgeError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _refuse(f"not a DER TimeStampResp ({type(exc).__name__})") from None
    if got_alg not in (hash_name, OID_SM3 if hash_name == "sm3" else hash_name) or got_digest != digest:
        raise _refuse("the token's imprint is not the digest that was sent")
    if got_nonce != nonce:
        raise _refuse("the token answers another request (nonce differs)")
    problem = tsa_signature_problem(token.dump(), require_critical_eku=True)
    if problem:
        raise _refuse(problem)
    return token.dump()
