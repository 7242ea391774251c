"""asn1crypto definitions of the electronic seal structures.

V1 is GM/T 0031-2014, V4 is GB/T 38540-2020, V5 is GM/T 0031-2025 (V4 plus an optional `[0]` timestamp on
SESeal). Field names follow the standards (in snake_case); see research/standards.md §2 for the ASN.1.

Where real producers disagree with the text, the definitions accept what they write: times as UTCTime or
GeneralizedTime, strings in any of the usual string types, V1 timeInfo / dataHash as BIT or OCTET STRING,
V1 certList entries as OCTET STRING (a DER certificate) or IA5String (a certificate id). Strictness about
the *encoding* (DER only) is enforced separately by formats.ses.der before these classes see the bytes.
"""

from __future__ import annotations

from asn1crypto.core import (
    Any,
    BitString,
    BMPString,
    Boolean,
    Choice,
    GeneralizedTime,
    IA5String,
    Integer,
    ObjectIdentifier,
    OctetString,
    PrintableString,
    Sequence,
    SequenceOf,
    UTCTime,
    UTF8String,
    VisibleString,
)


class AnyString(Choice):
    """A text field written by different producers in different string types."""

    _alternatives = [
        ("ia5", IA5String),
        ("printable", PrintableString),
        ("utf8", UTF8String),
        ("visible", VisibleString),
        ("bmp", BMPString),
    ]


class SesTime(Choice):
    """UTCTime in V1, GeneralizedTime in V4/V5; some producers mix them up, so read both."""

    _alternatives = [("utc", UTCTime), ("general", GeneralizedTime)]


class SesHeader(Sequence):
    _fields = [("id", AnyString), ("version", Integer), ("vid", AnyString)]


class ExtData(Sequence):
    # DER omits critical when FALSE, but every producer we have seen encodes it; both parse.
    _fields = [
        ("extn_id", ObjectIdentifier),
        ("critical", Boolean, {"default": False}),
        ("extn_value", OctetString),
    ]


class ExtensionDatas(SequenceOf):
    _child_spec = ExtData


class CertDigestObj(Sequence):
    _fields = [("type", AnyString), ("value", OctetString)]


class CertDigestList(SequenceOf):
    _child_spec = CertDigestObj


class CertOctetList(SequenceOf):
    _child_spec = OctetString


class V1CertEntry(Choice):
    """V1 certList entry: a DER certificate in an OCTET STRING (usual), or an IA5String id (dms360)."""

    _alternatives = [("cert", OctetString), ("cert_id", IA5String)]


class V1CertList(SequenceOf):
    _child_spec = V1CertEntry


class PropertyInfoV1(Sequence):
    _fields = [
        ("type", Integer),  # 1 = organisation seal, 2 = personal seal
        ("name", AnyString),
        ("cert_list", V1CertList),
        ("create_date", SesTime),
        ("valid_start", SesTime),
        ("valid_end", SesTime),
    ]


class PropertyInfoV4(Sequence):
    # cert_list is an untagged CHOICE whose two branches are both SEQUENCE OF: it can only be decoded
    # by reading cert_list_type first (1 -> CertOctetList, 2 -> CertDigestList).
    _fields = [
        ("type", Integer),
        ("name", AnyString),
        ("cert_list_type", Integer),
        ("cert_list", Any),
        ("create_date", SesTime),
        ("valid_start", SesTime),
        ("valid_end", SesTime),
    ]


class PictureInfo(Sequence):
    """SES_ESPictrueInfo (the standard's spelling): picture type, data, and size in millimetres."""

    _fields = [
        ("type", AnyString),
        ("data", OctetString),
        ("width", Integer),
        ("height", Integer),
    ]


class SealInfoV1(Sequence):
    _fields = [
        ("header", SesHeader),
        ("es_id", AnyString),
        ("property", PropertyInfoV1),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SealInfoV4(Sequence):
    _fields = [
        ("header", SesHeader),
        ("es_id", AnyString),
        ("property", PropertyInfoV4),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SignInfoV1(Sequence):
    """SES_SignInfo: the maker's certificate, algorithm and signature over SEQ{sealInfo, cert, alg}."""

    _fields = [
        ("cert", OctetString),
        ("signature_algorithm", ObjectIdentifier),
        ("sign_data", BitString),
    ]


class SESealV1(Sequence):
    _fields = [("seal_info", SealInfoV1), ("sign_info", SignInfoV1)]


class SESealV4(Sequence):
    """V4 SESeal; V5 has the same shape plus the optional `[0]` timestamp on the maker's signature."""

    _fields = [
        ("seal_info", SealInfoV4),
        ("cert", OctetString),
        ("sign_alg_id", ObjectIdentifier),
        ("signed_value", BitString),
        ("time_stamp", BitString, {"explicit": 0, "optional": True}),
    ]


class V1TimeInfo(Choice):
    """V1 timeInfo: a BIT STRING of ASCII time text per the standard; tolerate the other shapes seen."""

    _alternatives = [
        ("bits", BitString),
        ("octets", OctetString),
        ("utc", UTCTime),
        ("general", GeneralizedTime),
    ]


class V1DataHash(Choice):
    _alternatives = [("bits", BitString), ("octets", OctetString)]


class TBSSignV1(Sequence):
    _fields = [
        ("version", Integer),
        ("eseal", SESealV1),
        ("time_info", V1TimeInfo),
        ("data_hash", V1DataHash),
        ("property_info", AnyString),
        ("cert", OctetString),
        ("signature_algorithm", ObjectIdentifier),
    ]


class SESSignatureV1(Sequence):
    _fields = [("to_sign", TBSSignV1), ("signature", BitString)]


class TBSSignV4(Sequence):
    _fields = [
        ("version", Integer),
        ("eseal", SESealV4),
        ("time_info", SesTime),
        ("data_hash", BitString),
        ("property_info", AnyString),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SESSignatureV4(Sequence):
    _fields = [
        ("to_sign", TBSSignV4),
        ("cert", OctetString),
        ("signature_alg_id", ObjectIdentifier),
        ("signature", BitString),
        ("time_stamp", BitString, {"explicit": 0, "optional": True}),
    ]
