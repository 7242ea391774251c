"""Parse SESeal and SES_Signature (V1, V4, V5) strictly as DER, keeping the original signed bytes.

Version detection is by structure (research/standards.md §2.5), never by the header's number alone:
V1 data in the wild carries header versions 1, 2 and 11.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from formats.errors import SealBridgeError
from formats.ses import asn1
from formats.ses.der import CLASS_CONTEXT, Tlv, malformed, parse_der, sequence_of_raw
from formats.ses.model import CertDigest, ExtDataItem, Seal, SealPicture, SesSignature

Kind = Literal["seal", "signature", "pkcs7", "raw_sm2"]

# Seal files and signature values are a few kB to a few hundred kB; refuse absurd sizes before parsing.
MAX_SES_BYTES = 16 * 1024 * 1024
SUPPORTED_VERSIONS = (1, 4, 5)
# Times written without a zone by Chinese producers are Beijing time.
BEIJING = timezone(timedelta(hours=8))

# Everything asn1crypto raises on content it cannot decode.
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    UnicodeDecodeError,
    AttributeError,
)

_INTEGER, _BIT_STRING, _OCTET_STRING, _OID = 2, 3, 4, 6


def detect_kind(der: bytes) -> Kind | None:
    """What a SignedValue.dat / seal file holds, judged by structure; None if not DER or unknown.

    None also covers BER and damaged input: call parse_seal/parse_signature for the precise reason.
    """
    try:
        tree = parse_der(der)
    except SealBridgeError:
        return None
    return _kind_of_tree(tree)


def _kind_of_tree(tree: Tlv) -> Kind | None:
    if not tree.is_sequence or not tree.children:
        return None
    kids = tree.children
    if kids[0].is_universal(_OID):
        return "pkcs7"  # ContentInfo: GB/T 35275 (1.2.156.10197.6.1.4.2.2) or PKCS#7 signedData
    if len(kids) == 2 and all(k.is_universal(_INTEGER) for k in kids):
        return "raw_sm2"
    first = kids[0]
    if not first.is_sequence or not first.children:
        return None
    if len(kids) == 2 and kids[1].is_sequence:
        if first.children[0].is_sequence:
            return "seal"  # V1 SESeal: SEQ{SealInfo(header first), SignInfo}
    if len(kids) == 2 and kids[1].is_universal(_BIT_STRING) and first.children[0].is_universal(_INTEGER):
        return "signature"  # V1 SES_Signature: SEQ{TBS_Sign(version first), signature}
    if len(kids) in (4, 5) and kids[1].is_universal(_OCTET_STRING):
        if first.children[0].is_sequence:
            return "seal"
        if first.children[0].is_universal(_INTEGER):
            return "signature"
    return None


def _header_version(seal_info: Tlv, der: bytes) -> int | None:
    """SES_Header.version read straight from the tree (SealInfo -> header -> 2nd element)."""
    if not seal_info.children or not seal_info.children[0].is_sequence:
        return None
    header = seal_info.children[0]
    if len(header.children) < 2 or not header.children[1].is_universal(_INTEGER):
        return None
    body = header.children[1].contents(der)
    return int.from_bytes(body, "big", signed=True) if body else None


def _seal_structure_version(tree: Tlv, der: bytes) -> int:
    if not tree.is_sequence:
        raise malformed("not an SESeal: the outer element is not a SEQUENCE")
    kids = tree.children
    if len(kids) == 2 and kids[0].is_sequence and kids[1].is_sequence:
        return 1
    if len(kids) == 4 and kids[0].is_sequence:
        return 5 if _header_version(kids[0], der) == 5 else 4
    if len(kids) == 5 and kids[0].is_sequence and kids[4].tag_class == CLASS_CONTEXT and kids[4].tag == 0:
        return 5
    raise malformed(f"not an SESeal: outer SEQUENCE has {len(kids)} elements (V1 has 2, V4 4, V5 4 or 5)")


def _check_size(der: bytes, what: str) -> bytes:
    if not isinstance(der, bytes | bytearray | memoryview):
        raise malformed(f"{what}: expected bytes")
    if len(der) > MAX_SES_BYTES:
        raise SealBridgeError("DOC_TOO_LARGE", f"{what} of {len(der)} bytes exceeds {MAX_SES_BYTES}")
    return bytes(der)


_NOT_A_SEAL = {
    "signature": "an SES_Signature (a signed value), not an SESeal",
    "pkcs7": "a PKCS#7 / GB/T 35275 signature, not an SESeal",
    "raw_sm2": "a bare SM2 signature value, not an SESeal",
}


def parse_seal(der: bytes) -> Seal:
    """Parse an SESeal (V1, V4 or V5). DOC_MALFORMED for anything that is not a DER seal."""
    der = _check_size(der, "seal")
    tree = parse_der(der, "seal")
    kind = _kind_of_tree(tree)
    if kind in _NOT_A_SEAL:
        raise malformed(_NOT_A_SEAL[kind])
    version = _seal_structure_version(tree, der)
    try:
        if version == 1:
            return _seal_v1(der, tree)
        return _seal_v4(der, tree, version)
    except SealBridgeError:
        raise
    except _DECODE_ERRORS as exc:
        raise malformed(f"not a valid V{version} SESeal: {_short(exc)}") from None


def _seal_v1(der: bytes, tree: Tlv) -> Seal:
    parsed = asn1.SESealV1.load(der)
    info = parsed["seal_info"]
    sign_info = parsed["sign_info"]
    prop = info["property"]
    certs: list[bytes] = []
    cert_ids: list[str] = []
    for entry in prop["cert_list"]:
        if entry.name == "cert":
            certs.append(entry.chosen.native)
        else:
            cert_ids.append(entry.chosen.native)
    info_node, sign_node = tree.children
    if len(sign_node.children) != 3:
        raise malformed("V1 SES_SignInfo must have 3 elements")
    # What the V1 maker signed: SEQUENCE{SES_SealInfo, cert, signatureAlgorithm}, from the original bytes.
    signed = sequence_of_raw(
        info_node.raw(der), sign_node.children[0].raw(der), sign_node.children[1].raw(der)
    )
    seal = Seal(
        version=1,
        header_version=info["header"]["version"].native,
        vid=_text(info["header"]["vid"]),
        esid=_text(info["es_id"]),
        type=prop["type"].native,
        name=_text(prop["name"]),
        cert_list_type=1,
        certs=certs,
        cert_digests=[],
        cert_ids=cert_ids,
        created=_time(prop["create_date"]),
        valid_start=_time(prop["valid_start"]),
        valid_end=_time(prop["valid_end"]),
        picture=_picture(info["picture"]),
        ext_datas=_ext_datas(info["ext_datas"]),
        maker_cert=sign_info["cert"].native,
        sign_alg_oid=sign_info["signature_algorithm"].dotted,
        maker_signature=_bit_bytes(sign_info["sign_data"], "maker signature"),
        maker_signed_bytes=signed,
        seal_info_der=info_node.raw(der),
        der=der,
    )
    _check_header(seal, info)
    return seal


def _seal_v4(der: bytes, tree: Tlv, version: int) -> Seal:
    parsed = asn1.SESealV4.load(der)
    info = parsed["seal_info"]
    prop = info["property"]
    cert_list_type = prop["cert_list_type"].native
    raw_list = prop["cert_list"].dump()
    certs: list[bytes] = []
    digests: list[CertDigest] = []
    if cert_list_type == 1:
        certs = [c.native for c in asn1.CertOctetList.load(raw_list)]
    elif cert_list_type == 2:
        digests = [
            CertDigest(_text(d["type"]), d["value"].native) for d in asn1.CertDigestList.load(raw_list)
        ]
    else:
        raise malformed(f"unknown certListType {cert_list_type} (1 = certificates, 2 = digests)")
    info_node = tree.children[0]
    timestamp = None
    if len(tree.children) == 5:
        timestamp = _bit_bytes(parsed["time_stamp"], "seal timestamp")
    seal = Seal(
        version=version,
        header_version=info["header"]["version"].native,
        vid=_text(info["header"]["vid"]),
        esid=_text(info["es_id"]),
        type=prop["type"].native,
        name=_text(prop["name"]),
        cert_list_type=cert_list_type,
        certs=certs,
        cert_digests=digests,
        cert_ids=[],
        created=_time(prop["create_date"]),
        valid_start=_time(prop["valid_start"]),
        valid_end=_time(prop["valid_end"]),
        picture=_picture(info["picture"]),
        ext_datas=_ext_datas(info["ext_datas"]),
        maker_cert=parsed["cert"].native,
        sign_alg_oid=parsed["sign_alg_id"].dotted,
        maker_signature=_bit_bytes(parsed["signed_value"], "maker signature"),
        # V4/V5: the maker signed DER(SES_SealInfo) -- the original bytes, never re-encoded.
        maker_signed_bytes=info_node.raw(der),
        seal_info_der=info_node.raw(der),
        der=der,
        timestamp=timestamp,
    )
    _check_header(seal, info)
    return seal


def _check_header(seal: Seal, info: Any) -> None:
    header_id = _text(info["header"]["id"])
    if header_id != "ES":
        seal.warnings.append(f'SES_Header.ID is "{header_id}", expected "ES"')
    if seal.version in (4, 5) and seal.header_version != seal.version:
        seal.warnings.append(f"V4 structure with header version {seal.header_version}")
    if seal.valid_end < seal.valid_start:
        seal.warnings.append("validEnd is before validStart")


def parse_signature(der: bytes) -> SesSignature:
    """Parse an SES_Signature (V1, V4 or V5), e.g. an OFD SignedValue.dat."""
    der = _check_size(der, "signature")
    tree = parse_der(der, "signature")
    kind = _kind_of_tree(tree)
    if kind != "signature":
        what = {
            "seal": "an SESeal, not an SES_Signature",
            "pkcs7": "a PKCS#7 / GB/T 35275 signature, not an SES_Signature",
            "raw_sm2": "a bare SM2 signature value, not an SES_Signature",
        }.get(kind or "", "not an SES_Signature (unrecognised structure)")
        raise malformed(what)
    tbs_node = tree.children[0]
    if len(tbs_node.children) < 2 or not tbs_node.children[1].is_sequence:
        raise malformed("not an SES_Signature: TBS_Sign has no SESeal")
    seal = parse_seal(tbs_node.children[1].raw(der))
    is_v1 = len(tree.children) == 2
    if is_v1 != (seal.version == 1):
        raise malformed(f"SES_Signature structure does not match the V{seal.version} seal inside it")
    try:
        if is_v1:
            sig = _signature_v1(der, tbs_node, seal)
        else:
            sig = _signature_v4(der, tbs_node, seal)
    except SealBridgeError:
        raise
    except _DECODE_ERRORS as exc:
        raise malformed(f"not a valid V{seal.version} SES_Signature: {_short(exc)}") from None
    if sig.tbs_version != seal.header_version:
        sig.warnings.append(
            f"TBS_Sign.version {sig.tbs_version} differs from the seal's {seal.header_version}"
        )
    return sig


def _signature_v1(der: bytes, tbs_node: Tlv, seal: Seal) -> SesSignature:
    parsed = asn1.SESSignatureV1.load(der)
    tbs = parsed["to_sign"]
    time_text, time = _v1_time_info(tbs["time_info"])
    sig = SesSignature(
        version=1,
        tbs_version=tbs["version"].native,
        seal=seal,
        time=time,
        time_text=time_text,
        data_hash=_v1_hash(tbs["data_hash"]),
        property_info=_text(tbs["property_info"]),
        signer_cert=tbs["cert"].native,
        sign_alg_oid=tbs["signature_algorithm"].dotted,
        signature=_bit_bytes(parsed["signature"], "signature"),
        tbs_der=tbs_node.raw(der),
        der=der,
    )
    if time is None:
        sig.warnings.append(f"unreadable V1 timeInfo {time_text!r}")
    return sig


def _signature_v4(der: bytes, tbs_node: Tlv, seal: Seal) -> SesSignature:
    parsed = asn1.SESSignatureV4.load(der)
    tbs = parsed["to_sign"]
    time = _time(tbs["time_info"])
    timestamp = None
    if parsed["time_stamp"].native is not None:
        timestamp = _bit_bytes(parsed["time_stamp"], "timestamp")
    return SesSignature(
        version=seal.version,
        tbs_version=tbs["version"].native,
        seal=seal,
        time=time,
        time_text=tbs["time_info"].chosen.contents.decode("ascii", "replace"),
        data_hash=_bit_bytes(tbs["data_hash"], "dataHash"),
        property_info=_text(tbs["property_info"]),
        signer_cert=parsed["cert"].native,
        sign_alg_oid=parsed["signature_alg_id"].dotted,
        signature=_bit_bytes(parsed["signature"], "signature"),
        tbs_der=tbs_node.raw(der),
        der=der,
        timestamp=timestamp,
        ext_datas=_ext_datas(tbs["ext_datas"]),
    )


# --- field helpers -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    native = value.native
    if not isinstance(native, str):
        raise ValueError(f"expected text, found {type(native).__name__}")
    return native


def _bit_bytes(value: Any, what: str) -> bytes:
    contents = value.contents or b""
    if not contents:
        raise malformed(f"{what}: empty BIT STRING")
    if contents[0] != 0:
        raise malformed(f"{what}: BIT STRING with {contents[0]} unused bits")
    return bytes(contents[1:])


def _time(value: Any) -> datetime:
    native = value.chosen.native
    if not isinstance(native, datetime):
        raise ValueError("unreadable time")
    if native.tzinfo is None:
        native = native.replace(tzinfo=BEIJING)
    return native.astimezone(UTC)


_V1_TIME_FORMATS = (
    ("%Y%m%d%H%M%SZ", UTC),
    ("%Y%m%d%H%M%S.%fZ", UTC),
    ("%Y-%m-%dT%H:%M:%S.%fZ", UTC),
    ("%Y-%m-%dT%H:%M:%SZ", UTC),
    ("%Y-%m-%d %H:%M:%S", BEIJING),  # ofdrw writes local (Beijing) time without a zone
    ("%Y%m%d%H%M%S", BEIJING),
)


def _v1_time_info(value: Any) -> tuple[str, datetime | None]:
    """V1 timeInfo: ASCII time text in a BIT STRING (usually), or a real time type."""
    if value.name in ("utc", "general"):
        native = value.chosen.native
        return value.chosen.contents.decode("ascii", "replace"), native.astimezone(UTC)
    raw = _bit_bytes(value.chosen, "timeInfo") if value.name == "bits" else value.chosen.native
    text = raw.decode("ascii", "replace").strip("\x00 ")
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text)  # strptime takes at most 6 fraction digits
    formats = _V1_TIME_FORMATS
    if re.fullmatch(r"\d{12}Z", cleaned):  # UTCTime text: strptime's %Y would read "2110" from "211014"
        formats = (("%y%m%d%H%M%SZ", UTC),)
    for fmt, zone in formats:
        try:
            parsed = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return text, parsed.replace(tzinfo=zone).astimezone(UTC)
    return text, None


def _v1_hash(value: Any) -> bytes:
    if value.name == "bits":
        return _bit_bytes(value.chosen, "dataHash")
    return value.chosen.native


def _picture(value: Any) -> SealPicture:
    return SealPicture(
        type=_text(value["type"]),
        data=value["data"].native,
        width_mm=value["width"].native,
        height_mm=value["height"].native,
    )


def _ext_datas(value: Any) -> list[ExtDataItem]:
    if value.native is None:
        return []
    return [
        ExtDataItem(e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].native) for e in value
    ]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
