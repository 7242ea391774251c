"""Seal kinds of the seed's Art. 4 and their SES type numbers."""

from __future__ import annotations

from formats.ses import SealCategory, SealKind, describe_type


def test_every_article_4_kind_is_present_with_a_unique_code():
    expected = {
        "法定名称章",
        "内设机构章",
        "分支机构章",
        "合同专用章",
        "财务专用章",
        "发票专用章",
        "审验专用章",
        "报关专用章",
        "电子职务章",
        "电子私章",
    }
    assert expected <= {k.label_zh for k in SealKind}
    assert len({k.code for k in SealKind}) == len(SealKind)
    public = [k for k in SealKind if k.category is SealCategory.PUBLIC]
    assert len(public) >= 8
    assert SealKind.POSITION.category is SealCategory.POSITION
    assert SealKind.PERSONAL.category is SealCategory.PERSONAL


def test_lookup_by_type_and_name():
    assert SealKind.from_type(4) is SealKind.CONTRACT
    assert SealKind.from_type(999) is None
    assert SealKind.from_name("contract") is SealKind.CONTRACT
    assert SealKind.from_name("发票专用章") is SealKind.INVOICE
    assert SealKind.CONTRACT.to_dict() == {
        "kind": "contract",
        "type": 4,
        "category": "public",
        "label_zh": "合同专用章",
        "label_en": "Contract seal",
    }


def test_v1_types_mean_organisation_or_personal():
    assert describe_type(1, 1)["label_en"] == "Organisation seal"
    assert describe_type(2, 1)["label_en"] == "Personal seal"
    assert describe_type(2, 4)["label_zh"] == "内设机构章"
    assert describe_type(77, 4)["label_en"] == "Unknown type"
