"""Build V4 (GB/T 38540-2020) seals and seal signatures.

The signed structures are encoded once, signed, and then placed into the outer structure byte for byte,
so what a verifier reads back is exactly what was signed. Each result is parsed and verified before it
is returned: a key that does not match its certificate fails here, not in someone else's verifier.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import Any

from asn1crypto.core import GeneralizedTime, IA5String, Integer, ObjectIdentifier, OctetBitString, OctetString

from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, to_der
from formats.ses import asn1
from formats.ses.der import encode_length, parse_der, sequence_of_raw
from formats.ses.model import SealPicture
from formats.ses.parse import parse_seal, parse_signature
from formats.ses.verify import verify_maker, verify_signature_value

# Signature algorithm OIDs by Signer.algorithm (SM2 is the standard's; RSA/ECDSA for non-GM signers).
SIGNATURE_OIDS = {
    "sm2": OID_SM2_SM3,
    "rsa": "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
    "ecdsa": "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256
}
PictureArg = SealPicture | tuple[str, bytes, int, int]


def _bad(detail: str) -> SealBridgeError:
    return SealBridgeError("BAD_REQUEST", detail)


def _ascii(value: str, what: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _bad(f"{what} must be a non-empty string")
    if not value.isascii():
        raise _bad(f"{what} must be ASCII (IA5String): {value!r}")
    return value


def _gtime(value: datetime, what: str) -> GeneralizedTime:
    if not isinstance(value, datetime):
        raise _bad(f"{what} must be a datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # DER GeneralizedTime: UTC with "Z"; whole seconds keep the encoding canonical and readable.
    return GeneralizedTime(value.astimezone(UTC).replace(microsecond=0))


def _ses_time(value: datetime, what: str) -> asn1.SesTime:
    return asn1.SesTime(name="general", value=_gtime(value, what))


def _picture(picture: PictureArg) -> asn1.PictureInfo:
    if isinstance(picture, SealPicture):
        ptype, data, width, height = picture.type, picture.data, picture.width_mm, picture.height_mm
    else:
        try:
            ptype, data, width, height = picture
        except (TypeError, ValueError):
            raise _bad("picture must be (type, data, width_mm, height_mm)") from None
    if not isinstance(data, bytes | bytearray) or not data:
        raise _bad("picture data must be non-empty bytes")
    try:
        w, h = round(width), round(height)
    except TypeError:
        raise _bad("picture width and height must be numbers (mm)") from None
    if not (1 <= w <= 1000 and 1 <= h <= 1000):
        raise _bad(f"picture size {width}x{height} mm is out of range")
    return asn1.PictureInfo(
        {
            "type": asn1.AnyString(name="ia5", value=_ascii(ptype, "picture type")),
            "data": bytes(data),
            "width": w,
            "height": h,
        }
    )


def _ext_datas(items: Seq[tuple[str, bool, bytes]] | None) -> asn1.ExtensionDatas | None:
    if not items:
        return None
    return asn1.ExtensionDatas(
        [{"extn_id": oid, "critical": bool(crit), "extn_value": bytes(val)} for oid, crit, val in items]
    )


def _sign(signer: Any, data: bytes) -> tuple[bytes, str]:
    """Sign with an SM2PrivateKey or a Signer-like object; return (signature, algorithm OID)."""
    algorithm = getattr(signer, "algorithm", "sm2")
    oid = SIGNATURE_OIDS.get(algorithm)
    if oid is None:
        raise _bad(f"unsupported signing algorithm {algorithm!r}")
    if not callable(getattr(signer, "sign", None)):
        raise _bad("the key must have a sign(data) method")
    signature = signer.sign(data) if algorithm == "sm2" else signer.sign(data, "sha256")
    if not isinstance(signature, bytes | bytearray) or not signature:
        raise SealBridgeError("TOKEN_ERROR", "the signer returned no signature")
    if algorithm == "sm2":
        # Tokens sometimes hand back raw r||s (or an SKF blob); the standard's BIT STRING holds DER.
        try:
            signature = to_der(bytes(signature))
        except ValueError as exc:
            raise SealBridgeError(
                "TOKEN_ERROR", f"the signer returned an unreadable SM2 signature: {exc}"
            ) from None
    return bytes(signature), oid


def _check_cert(cert_der: bytes, what: str) -> bytes:
    if not isinstance(cert_der, bytes | bytearray) or not cert_der:
        raise _bad(f"{what} must be DER bytes")
    try:
        parse_der(bytes(cert_der), what)
    except SealBridgeError as err:
        raise _bad(err.detail or f"{what} is not DER") from None
    return bytes(cert_der)


def build_seal_v4(
    *,
    esid: str,
    name: str,
    seal_type: int,
    vid: str,
    certs: Seq[bytes],
    picture: PictureArg,
    valid_start: datetime,
    valid_end: datetime,
    created: datetime | None = None,
    maker_key: Any,
    maker_cert_der: bytes,
    cert_digests: Seq[tuple[str, bytes]] | None = None,
    ext_datas: Seq[tuple[str, bool, bytes]] | None = None,
) -> bytes:
    """A DER V4 SESeal. The maker signs DER(SES_SealInfo) (SM2 with SM3 for an SM2 maker key).

    `certs` are the signer certificates (certListType 1). Pass `cert_digests` as [(algorithm, digest)]
    instead to write certListType 2. `maker_key` is an SM2PrivateKey or any Signer-like object.
    """
    if not isinstance(name, str) or not name.strip():
        raise _bad("seal name must be a non-empty string")
    if not isinstance(seal_type, int) or isinstance(seal_type, bool) or seal_type < 0:
        raise _bad("seal type must be a non-negative integer")
    if valid_end <= valid_start:
        raise _bad("validEnd must be after validStart")
    if cert_digests:
        cert_list_type = 2
        cert_list: Any = asn1.CertDigestList(
            [
                {
                    "type": asn1.AnyString(name="printable", value=_ascii(alg, "digest type")),
                    "value": bytes(v),
                }
                for alg, v in cert_digests
            ]
        )
    else:
        if not certs:
            raise _bad("a seal needs at least one signer certificate")
        cert_list_type = 1
        cert_list = asn1.CertOctetList([_check_cert(c, "signer certificate") for c in certs])
    property_info = asn1.PropertyInfoV4(
        {
            "type": seal_type,
            "name": asn1.AnyString(name="utf8", value=name),
            "cert_list_type": cert_list_type,
            "cert_list": asn1.Any.load(cert_list.dump()),
            "create_date": _ses_time(created or datetime.now(UTC), "createDate"),
            "valid_start": _ses_time(valid_start, "validStart"),
            "valid_end": _ses_time(valid_end, "validEnd"),
        }
    )
    info_fields: dict[str, Any] = {
        "header": {
            "id": asn1.AnyString(name="ia5", value="ES"),
            "version": 4,
            "vid": asn1.AnyString(name="ia5", value=_ascii(vid, "vid")),
        },
        "es_id": asn1.AnyString(name="ia5", value=_ascii(esid, "esID")),
        "property": property_info,
        "picture": _picture(picture),
    }
    extensions = _ext_datas(ext_datas)
    if extensions is not None:
        info_fields["ext_datas"] = extensions
    seal_info_der = asn1.SealInfoV4(info_fields).dump()
    maker_cert_der = _check_cert(maker_cert_der, "maker certificate")
    signature, oid = _sign(maker_key, seal_info_der)
    seal_der = sequence_of_raw(
        seal_info_der,
        OctetString(maker_cert_der).dump(),
        ObjectIdentifier(oid).dump(),
        OctetBitString(signature).dump(),
    )
    status, detail = verify_maker(parse_seal(seal_der))
    if status != "ok":
        raise _bad(f"the maker key does not match the maker certificate ({detail})")
    return seal_der


def build_signature_v4(
    *,
    seal_der: bytes,
    data_hash: bytes,
    property_info: str,
    signer: Any,
    signed_at: datetime,
    ext_datas: Seq[tuple[str, bool, bytes]] | None = None,
) -> bytes:
    """A DER V4 SES_Signature: the signer signs DER(TBS_Sign), which embeds `seal_der` byte for byte.

    `signer` is Signer-like (`certificate` DER, `algorithm`, `sign(data)`). The caller checks that the
    seal may be used by this signer (check_seal_usable) before calling this.
    """
    seal = parse_seal(seal_der)
    if seal.version == 1:
        raise SealBridgeError("SEAL_VERSION_UNSUPPORTED", "a V1 (GM/T 0031-2014) seal cannot sign as V4")
    if not isinstance(data_hash, bytes | bytearray) or not data_hash:
        raise _bad("dataHash must be non-empty bytes")
    cert_der = _check_cert(getattr(signer, "certificate", b""), "signer certificate")
    tbs_parts = [
        Integer(seal.version).dump(),
        seal.der,
        _gtime(signed_at, "signing time").dump(),
        OctetBitString(bytes(data_hash)).dump(),
        IA5String(_ascii(property_info, "propertyInfo")).dump(),
    ]
    extensions = _ext_datas(ext_datas)
    if extensions is not None:
        body = extensions.dump()
        tbs_parts.append(b"\xa0" + encode_length(len(body)) + body)  # [0] EXPLICIT ExtensionDatas
    tbs_der = sequence_of_raw(*tbs_parts)
    signature, oid = _sign(signer, tbs_der)
    der = sequence_of_raw(
        tbs_der, OctetString(cert_der).dump(), ObjectIdentifier(oid).dump(), OctetBitString(signature).dump()
    )
    status, detail = verify_signature_value(parse_signature(der))
    if status == "failed":
        raise SealBridgeError(
            "TOKEN_ERROR", f"the new signature does not verify with the signer certificate ({detail})"
        )
    return der


def with_timestamp_v4(signature_der: bytes, token: bytes) -> bytes:
    """`signature_der` (a V4 SES_Signature without a timestamp) with `token` as its [0] timeStamp: the
    DER TimeStampToken inside a BIT STRING, as GB/T 38540 §6 defines it. The signed part is unchanged."""
    tree = parse_der(signature_der, "SES_Signature")
    if len(tree.children) != 4:
        raise _bad("the SES_Signature already has a timestamp or is not V4")
    bits = OctetBitString(bytes(token)).dump()
    wrapped = b"\xa0" + encode_length(len(bits)) + bits
    return sequence_of_raw(*[c.raw(signature_der) for c in tree.children], wrapped)
