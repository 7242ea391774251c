"""The platform's RFC 3161 time-stamp service (POST /api/v1/tsa).

SM3 imprints get an SM2-signed token in the GM/T 0033 profile (digest SM3 1.2.156.10197.1.401, signature
SM2 1.2.156.10197.1.501 with the default user ID); SHA-256/384/512 imprints get an ECDSA P-256 token for
PAdES. Stock OpenSSL 3.0 cannot sign SM2 replies, which is why the platform runs its own.

Every token is first written to the platform audit (action "tsa.token", subject the imprint): the audit
record's sequence number is the token's serial number, so serials are unique, strictly increasing across
both keys, and each token can be found in the hash-chained log. A request the service cannot honour gets a
TimeStampResp with status "rejection" and a failInfo bit (RFC 3161 §2.4.2), never an HTTP error, because
TSA clients read the status from the reply.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, tsp, x509

from central import audit
from central.db import Tx
from central.timeutil import utcnow
from central.tsa_keys import TsaKey
from formats.gm import OID_SM2_SM3, register_asn1crypto_oids, sm3
from formats.keysigner import sign_with_key
from formats.ses.der import encode_length
from stamping.timestamps.reply import TimeStampResp

# A UUID-derived OID (ITU-T X.667 arc 2.25): needs no registration and names this service's policy.
POLICY_OID = "2.25.255252260694207061959094337223095584223"
OID_SM3 = "1.2.156.10197.1.401"
MAX_REQUEST = 4096  # a TimeStampReq with a SHA-512 imprint and a nonce is under 200 bytes

# imprint hash name -> (digest length, TSA family)
_IMPRINTS = {
    "sm3": (32, "sm2"),
    OID_SM3: (32, "sm2"),
    "sha256": (32, "ecdsa"),
    "sha384": (48, "ecdsa"),
    "sha512": (64, "ecdsa"),
}


@dataclass
class Rejected(Exception):
    fail_info: str  # an asn1crypto PKIFailureInfo bit name
    text: str


@dataclass(frozen=True)
class TsaRequest:
    hash_name: str
    digest: bytes
    nonce: int | None
    cert_req: bool
    imprint: tsp.MessageImprint


def parse_request(body: bytes) -> TsaRequest:
    register_asn1crypto_oids()
    if not body or len(body) > MAX_REQUEST:
        raise Rejected("bad_data_format", "empty or oversized request")
    try:
        req = tsp.TimeStampReq.load(body, strict=True)
        version = req["version"].native
        imprint = req["message_imprint"]
        hash_name = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        policy = req["req_policy"].native
        nonce = req["nonce"].native
        cert_req = bool(req["cert_req"].native)
        has_extensions = req["extensions"].native is not None
    except (ValueError, TypeError, KeyError) as exc:
        raise Rejected("bad_data_format", f"not a DER TimeStampReq ({type(exc).__name__})") from None
    if version not in (1, "v1"):
        raise Rejected("bad_request", f"version {version}")
    if hash_name not in _IMPRINTS:
        raise Rejected("bad_alg", f"unsupported imprint hash {hash_name}")
    if len(digest) != _IMPRINTS[hash_name][0]:
        raise Rejected("bad_data_format", "imprint length does not match its hash")
    if policy is not None and policy != POLICY_OID:
        raise Rejected("unaccepted_policy", f"policy {policy}")
    if has_extensions:
        raise Rejected("unaccepted_extension", "request extensions are not supported")
    if nonce is not None and not 0 <= nonce < 1 << 256:
        raise Rejected("bad_request", "nonce out of range")
    name = "sm3" if hash_name == OID_SM3 else hash_name
    return TsaRequest(name, digest, nonce, cert_req, imprint)


def family_for(req: TsaRequest) -> str:
    return _IMPRINTS[req.hash_name][1]


def record_token(tx: Tx, req: TsaRequest, client: str) -> tuple[int, datetime]:
    """The audit record for the token about to be issued: (serial = its sequence number, genTime).

    genTime is read under the audit's write lock, so a larger serial never has an earlier genTime."""
    gen_time = utcnow().replace(microsecond=0)
    seq, _ = audit.append(
        tx,
        f"tsa-client:{client}",
        "tsa.token",
        req.digest.hex(),
        {
            "hash": req.hash_name,
            "gen_time": gen_time.isoformat(),
            "nonce": None if req.nonce is None else str(req.nonce),
            "policy": POLICY_OID,
        },
    )
    return seq, gen_time


def _digest(name: str, data: bytes) -> bytes:
    return sm3(data) if name == "sm3" else hashlib.new(name, data).digest()


def build_token(req: TsaRequest, serial: int, gen_time: datetime, key: TsaKey) -> cms.ContentInfo:
    register_asn1crypto_oids()
    cert = x509.Certificate.load(key.cert_der)
    info: dict[str, object] = {
        "version": "v1",
        "policy": POLICY_OID,
        "message_imprint": req.imprint,
        "serial_number": serial,
        "gen_time": gen_time.replace(microsecond=0),
        "accuracy": {"seconds": 1},
        "ordering": False,
        "tsa": x509.GeneralName(name="directory_name", value=_name(cert.subject)),
    }
    if req.nonce is not None:
        info["nonce"] = req.nonce
    tst_der = tsp.TSTInfo(info).dump()
    sm2 = key.role == "tsa-sm2"
    digest_name = "sm3" if sm2 else "sha256"
    digest_alg = algos.DigestAlgorithm({"algorithm": OID_SM3 if sm2 else "sha256"})
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time(name="utc_time", value=gen_time)]}),
            cms.CMSAttribute({"type": "message_digest", "values": [_digest(digest_name, tst_der)]}),
            cms.CMSAttribute(
                {
                    # RFC 5816 ESSCertIDv2 (SHA-256) binds the token to this TSA certificate.
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(key.cert_der).digest()}]}],
                }
            ),
        ]
    )
    signature = sign_with_key(key.key, signed_attrs.dump(), digest_name)
    sig_alg = {"algorithm": OID_SM2_SM3} if sm2 else {"algorithm": "sha256_ecdsa"}
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": _name(cert.issuer), "serial_number": cert.serial_number},
            ),
            "digest_algorithm": digest_alg,
            "signed_attrs": signed_attrs,
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    # The outer SignedData is assembled from DER pieces: asn1crypto re-encodes (and re-sorts) nested SETs of
    # objects on every dump, which made a token cost ~100 ms; the pieces are dumped once each.
    encap = _tlv(
        0x30,
        core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
        + _tlv(0xA0, core.OctetString(tst_der).dump()),
    )
    parts = [
        core.Integer(3).dump(),
        _tlv(0x31, digest_alg.dump()),
        encap,
    ]
    if req.cert_req:  # RFC 3161 §2.4.1: certificates only when asked for
        parts.append(_tlv(0xA0, _certificate_set(key.cert_der, key.root_der)))
    parts.append(_tlv(0x31, signer_info.dump()))
    signed_data = _tlv(0x30, b"".join(parts))
    content_info = _tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.7.2").dump() + _tlv(0xA0, signed_data))
    return cms.ContentInfo.load(content_info)


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(body)) + body


def _name(name: x509.Name) -> x509.Name:
    # A fresh load keeps the DER as is; a Name taken from another structure is re-encoded RDN by RDN.
    return x509.Name.load(name.dump())


@functools.lru_cache(maxsize=8)
def _certificate_set(cert_der: bytes, root_der: bytes) -> bytes:
    """The contents of the [0] IMPLICIT CertificateSet: the certificates in DER order (a SET OF)."""
    return b"".join(sorted([cert_der, root_der]))


def granted(token: cms.ContentInfo) -> bytes:
    return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def rejection(err: Rejected) -> bytes:
    status = {
        "status": "rejection",
        "status_string": [err.text[:200]],
        "fail_info": tsp.PKIFailureInfo({err.fail_info}),
    }
    return TimeStampResp({"status": status}).dump()
