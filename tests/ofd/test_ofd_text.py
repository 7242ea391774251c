"""Keyword positions on OFD pages: TextCode splits, DeltaX (with "g" runs), CTM, templates, PageBlocks."""

from __future__ import annotations

import pytest

from formats.ofd import OfdPackage, load_document
from formats.ofd.text import find_text, parse_deltas

NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def _hits(build_ofd, layer: str, word: str, **kw):
    data = build_ofd([layer], **kw)
    pkg = OfdPackage(data)
    return find_text(pkg, load_document(pkg), word)


def _approx(box, expected):
    assert box == pytest.approx(expected, abs=1e-6)


def test_parse_deltas():
    assert parse_deltas("1 2 g 3 1.5 4") == [1, 2, 1.5, 1.5, 1.5, 4]
    assert parse_deltas("") == []
    assert parse_deltas("g 2 x 5") == [5]  # a damaged run is skipped, not fatal


def test_keyword_split_across_textcodes_and_objects(build_ofd):
    layer = (
        '<ofd:TextObject ID="1" Boundary="10 20 100 10" Size="4">'
        '<ofd:TextCode X="0" Y="4" DeltaX="4 4">甲方盖</ofd:TextCode>'
        '<ofd:TextCode X="12" Y="4" DeltaX="4">章处</ofd:TextCode></ofd:TextObject>'
        '<ofd:TextObject ID="2" Boundary="30 20 100 10" Size="4"><ofd:TextCode X="0" Y="4">!</ofd:TextCode></ofd:TextObject>'
    )
    (hit,) = _hits(build_ofd, layer, "盖章处")
    # 盖 at x=8, 章 at 12, 处 at 16 (+4 wide) → 8..20 in the object, +10 boundary; y = 4 - 0.8*4 .. 4 + 0.2*4
    _approx(hit.box, (18, 20.8, 12, 4))
    (hit,) = _hits(build_ofd, layer, "处!")
    _approx(hit.box, (26, 20.8, 8, 4))


def test_deltax_g_run_and_missing_x_continues(build_ofd):
    layer = (
        '<ofd:TextObject ID="1" Boundary="0 0 100 10" Size="2">'
        '<ofd:TextCode X="5" Y="2" DeltaX="g 3 3">ABCD</ofd:TextCode>'
        '<ofd:TextCode DeltaX="2">EF</ofd:TextCode></ofd:TextObject>'
    )
    (hit,) = _hits(build_ofd, layer, "DEF")
    # D at 5+9=14 (an em wide: 2); the 2nd TextCode has no X so it reuses X=5 (GB/T 33190 11.3): E 5..7, F 7..9
    _approx(hit.box, (5, 0.4, 11, 2))


def test_ctm_scales_and_translates(build_ofd):
    layer = (
        '<ofd:TextObject ID="1" Boundary="50 60 100 20" Size="5" CTM="2 0 0 2 1 1">'
        '<ofd:TextCode X="0" Y="5" DeltaX="5">签字</ofd:TextCode></ofd:TextObject>'
    )
    (hit,) = _hits(build_ofd, layer, "签字")
    # object box x 0..10, y 1..6 → ×2 +1 → x 1..21, y 3..13 → + (50, 60)
    _approx(hit.box, (51, 63, 20, 10))


def test_template_text_and_nested_pageblock(build_ofd):
    tpl = '<ofd:TextObject ID="1" Boundary="10 10 50 10" Size="4"><ofd:TextCode X="0" Y="4" DeltaX="4">日期</ofd:TextCode></ofd:TextObject>'
    page = (
        '<ofd:PageBlock ID="7"><ofd:PageBlock ID="8">'
        '<ofd:TextObject ID="2" Boundary="10 100 50 10" Size="4"><ofd:TextCode X="0" Y="4" DeltaX="4">日期</ofd:TextCode></ofd:TextObject>'
        "</ofd:PageBlock></ofd:PageBlock>"
    )
    hits = _hits(build_ofd, page, "日期", template=tpl)
    assert [round(h.box[1], 3) for h in hits] == [10.8, 100.8]  # template (background) first, then the page


def test_whitespace_is_ignored(build_ofd):
    layer = '<ofd:TextObject ID="1" Boundary="0 0 100 10" Size="3"><ofd:TextCode X="0" Y="3" DeltaX="g 4 3">盖 章 处</ofd:TextCode></ofd:TextObject>'
    assert len(_hits(build_ofd, layer, "盖章处")) == 1
    assert len(_hits(build_ofd, layer, "盖 章")) == 1


def test_real_invoice_keyword(ofd_samples):
    pkg = OfdPackage((ofd_samples / "kinggrid-v4-relative-baseloc.ofd").read_bytes())
    doc = load_document(pkg)
    hits = find_text(pkg, doc, "销售方")
    assert hits and all(0 <= h.centre[0] <= h.page.width and 0 <= h.centre[1] <= h.page.height for h in hits)
