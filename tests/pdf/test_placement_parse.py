"""stamping.placement: the CLI and protocol forms of placements, and every way they can be wrong."""

from __future__ import annotations

import pytest

from formats.errors import SealBridgeError
from stamping.placement import (
    MAX_PLACEMENTS,
    At,
    Keyword,
    Seam,
    check_count,
    from_dict,
    parse_keyword,
    parse_place,
    parse_seam,
)


def test_cli_forms() -> None:
    assert parse_place("page=2,x=50.5,y=60") == At(2, 50.5, 60.0)
    assert parse_keyword("盖章处") == Keyword("盖章处")
    # the text may contain commas; options start at the first ",key="
    assert parse_keyword("甲方,乙方,nth=2,dx=-5,dy=3") == Keyword("甲方,乙方", 2, -5.0, 3.0)
    assert parse_seam("left") == Seam("left")
    assert parse_seam("top,pages=2-4,offset=100") == Seam("top", 2, 4, 100.0)
    assert parse_seam("right,pages=3") == Seam("right", 3, 3)
    assert parse_seam("bottom,pages=2-") == Seam("bottom", 2, None)


def test_protocol_forms() -> None:
    assert from_dict({"type": "at", "page": 1, "x": 10, "y": 20}) == At(1, 10.0, 20.0)
    assert from_dict({"type": "keyword", "text": "签字", "nth": 1}) == Keyword("签字", 1)
    assert from_dict({"type": "seam", "side": "right", "pages": "all"}) == Seam("right")


def test_seam_pages() -> None:
    assert Seam("right").pages(3) == [1, 2, 3]
    assert Seam("right", 2, 3).pages(3) == [2, 3]
    for seam, count in ((Seam("right", 1, 5), 3), (Seam("right", 3, 2), 5), (Seam("right", 2, 2), 5)):
        with pytest.raises(SealBridgeError) as exc:
            seam.pages(count)
        assert exc.value.code == "PLACEMENT_INVALID"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        "at",
        {"type": "circle"},
        {"type": "at", "page": 0, "x": 1, "y": 1},
        {"type": "at", "page": True, "x": 1, "y": 1},
        {"type": "at", "page": 1.5, "x": 1, "y": 1},
        {"type": "at", "page": 1, "x": "nan", "y": 1},
        {"type": "at", "page": 1, "x": "inf", "y": 1},
        {"type": "at", "page": 1, "x": 1e9, "y": 1},
        {"type": "at", "page": 1, "x": True, "y": 1},
        {"type": "at", "page": 1, "x": [1], "y": 1},
        {"type": "at", "page": "9" * 5000, "x": 1, "y": 1},
        {"type": "keyword", "text": ""},
        {"type": "keyword", "text": "   "},
        {"type": "keyword", "text": "x" * 201},
        {"type": "keyword", "text": 5},
        {"type": "keyword", "text": "a", "nth": 0},
        {"type": "seam", "side": "middle"},
        {"type": "seam", "pages": "a-b"},
        {"type": "seam", "offset": "far"},
    ],
)
def test_bad_protocol_placements_are_placement_invalid(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SealBridgeError) as exc:
        from_dict(bad)
    assert exc.value.code == "PLACEMENT_INVALID", bad


@pytest.mark.parametrize(
    "parse,spec",
    [
        (parse_place, "page=1,x=5"),
        (parse_place, "page=1,x=5,y=6,z=7"),
        (parse_place, "1,5,6"),
        (parse_keyword, "甲方,nth=1,size=3"),
        (parse_seam, "right,pages=1-2,width=3"),
        (parse_seam, "diagonal"),
    ],
)
def test_bad_cli_placements(parse, spec: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SealBridgeError) as exc:
        parse(spec)
    assert exc.value.code == "PLACEMENT_INVALID"


def test_placement_count_is_bounded() -> None:
    with pytest.raises(SealBridgeError) as exc:
        check_count([])
    assert exc.value.code == "PLACEMENT_INVALID"
    check_count([At(1, 1, 1)] * MAX_PLACEMENTS)
    with pytest.raises(SealBridgeError) as exc:
        check_count([At(1, 1, 1)] * (MAX_PLACEMENTS + 1))
    assert exc.value.code == "DOC_TOO_LARGE"
