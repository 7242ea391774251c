"""Seal kinds of the Suqian measures (宿迁市企业电子印章管理办法, 2024) Art. 4, mapped to SES `type`.

GB/T 38540 leaves SES_ESPropertyInfo.type to the business; this is SealBridge's mapping (documented in
docs/seal-kinds.md). Seals from other producers use their own numbers, so a number alone never proves
a kind unless the seal came from a platform that uses this table. In V1 (GM/T 0031-2014) the field
means 1 = organisation seal, 2 = personal seal.
"""

from __future__ import annotations

from enum import Enum


class SealCategory(Enum):
    """The three classes of Art. 4: 电子公章, 电子职务章, 电子私章."""

    PUBLIC = ("public", "电子公章", "Company seal")
    POSITION = ("position", "电子职务章", "Position seal")
    PERSONAL = ("personal", "电子私章", "Personal seal")

    def __init__(self, key: str, zh: str, en: str) -> None:
        self.key = key
        self.label_zh = zh
        self.label_en = en


class SealKind(Enum):
    """A seal kind: SES `type` number, category, Chinese and English names, and the picture label."""

    LEGAL_NAME = (1, SealCategory.PUBLIC, "法定名称章", "Legal-name seal", "")
    INTERNAL_DEPARTMENT = (2, SealCategory.PUBLIC, "内设机构章", "Internal department seal", "")
    BRANCH = (3, SealCategory.PUBLIC, "分支机构章", "Branch seal", "")
    CONTRACT = (4, SealCategory.PUBLIC, "合同专用章", "Contract seal", "合同专用章")
    FINANCE = (5, SealCategory.PUBLIC, "财务专用章", "Finance seal", "财务专用章")
    INVOICE = (6, SealCategory.PUBLIC, "发票专用章", "Invoice seal", "发票专用章")
    AUDIT = (7, SealCategory.PUBLIC, "审验专用章", "Audit and inspection seal", "审验专用章")
    CUSTOMS = (8, SealCategory.PUBLIC, "报关专用章", "Customs declaration seal", "报关专用章")
    OTHER_BUSINESS = (9, SealCategory.PUBLIC, "其他业务专用章", "Other business seal", "专用章")
    POSITION = (10, SealCategory.POSITION, "电子职务章", "Position seal", "")
    PERSONAL = (11, SealCategory.PERSONAL, "电子私章", "Personal seal", "")

    def __init__(self, code: int, category: SealCategory, zh: str, en: str, picture_label: str) -> None:
        self.code = code
        self.category = category
        self.label_zh = zh
        self.label_en = en
        #: Text drawn under the star of a round seal picture ("" for the legal-name seal).
        self.picture_label = picture_label

    @classmethod
    def from_type(cls, seal_type: int) -> SealKind | None:
        """Our kind for a V4/V5 `type` number, or None if the number is not in our table."""
        for kind in cls:
            if kind.code == seal_type:
                return kind
        return None

    @classmethod
    def from_name(cls, name: str) -> SealKind:
        """By enum name (case-insensitive, "-" or "_") or by Chinese label; ValueError if unknown."""
        wanted = name.strip().upper().replace("-", "_")
        for kind in cls:
            if kind.name == wanted or kind.label_zh == name.strip():
                return kind
        raise ValueError(f"unknown seal kind {name!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.name.lower(),
            "type": self.code,
            "category": self.category.key,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
        }


#: GM/T 0031-2014 (V1) meaning of SES_ESPropertyInfo.type.
V1_TYPES: dict[int, tuple[str, str]] = {
    1: ("单位印章", "Organisation seal"),
    2: ("个人印章", "Personal seal"),
}


def describe_type(seal_type: int, version: int) -> dict[str, object]:
    """Labels for a seal's `type` as the report and the CLI show them."""
    if version == 1:
        zh, en = V1_TYPES.get(seal_type, ("未知类型", "Unknown type"))
        return {"type": seal_type, "label_zh": zh, "label_en": en}
    kind = SealKind.from_type(seal_type)
    if kind is None:
        return {"type": seal_type, "label_zh": "未知类型", "label_en": "Unknown type"}
    return kind.to_dict()
