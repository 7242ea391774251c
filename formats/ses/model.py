"""What a parsed seal and a parsed seal signature look like to the rest of SealBridge.

Every byte string that someone signed is kept exactly as it was read (`maker_signed_bytes`, `tbs_der`),
so verification never depends on re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SealPicture:
    type: str  # as written: "PNG", "png", "gif", "bmp", "jpg", "ofd" (a vector OFD package)...
    data: bytes
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class CertDigest:
    """certListType 2 entry: `algorithm` is the producer's free text (e.g. "SM3", "sha256")."""

    algorithm: str
    value: bytes


@dataclass(frozen=True)
class ExtDataItem:
    oid: str
    critical: bool
    value: bytes


@dataclass
class Seal:
    """An SESeal of version 1 (GM/T 0031-2014), 4 (GB/T 38540-2020) or 5 (GM/T 0031-2025)."""

    version: int  # by structure: 1, 4 or 5
    header_version: int  # as written in SES_Header.version (V1 data carries 1, 2 or 11)
    vid: str
    esid: str
    type: int
    name: str
    cert_list_type: int  # 1 = certificates, 2 = certificate digests (V1 is always 1)
    certs: list[bytes]  # DER certificates (certListType 1)
    cert_digests: list[CertDigest]  # certListType 2
    cert_ids: list[str]  # V1 entries written as an IA5String id instead of a certificate
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture: SealPicture
    ext_datas: list[ExtDataItem]
    maker_cert: bytes
    sign_alg_oid: str
    maker_signature: bytes  # BIT STRING contents: DER SEQUENCE{r, s} or raw r||s
    maker_signed_bytes: bytes  # V4/V5: original DER(SES_SealInfo); V1: SEQ{SealInfo, cert, alg}
    seal_info_der: bytes  # original bytes of SES_SealInfo
    der: bytes  # original bytes of the whole SESeal
    timestamp: bytes | None = None  # V5 [0] timestamp on the maker's signature (raw BIT STRING value)
    warnings: list[str] = field(default_factory=list)

    @property
    def esID(self) -> str:  # noqa: N802 - the standard's spelling, used by the report model
        return self.esid


@dataclass
class SesSignature:
    """An SES_Signature (the SignedValue.dat of an OFD seal) of version 1, 4 or 5."""

    version: int  # structure version of the signature (and of the seal inside): 1, 4 or 5
    tbs_version: int  # TBS_Sign.version as written
    seal: Seal
    time: datetime | None  # signing time (timeInfo), aware UTC; None if a V1 timeInfo is unreadable
    time_text: str  # timeInfo as written (V1 carries free-form ASCII)
    data_hash: bytes
    property_info: str
    signer_cert: bytes  # V4: SES_Signature.cert; V1: TBS_Sign.cert
    sign_alg_oid: str
    signature: bytes  # BIT STRING contents: DER SEQUENCE{r, s} or raw r||s
    tbs_der: bytes  # original bytes of TBS_Sign: what the signer signed
    der: bytes
    timestamp: bytes | None = None  # V4 [0] timeStamp (DER TimeStampToken in a BIT STRING)
    ext_datas: list[ExtDataItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
