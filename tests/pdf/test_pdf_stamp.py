"""Stamping PDFs: placements land where asked (checked by rendering), seals are checked before use."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw

from formats.errors import SealBridgeError
from stamping.options import StampOptions, VerifyOptions
from stamping.pdf import stamp, verify
from stamping.placement import At, Keyword, Seam
from tests.support.pdf_maker import A4, PageSpec, contract_pdf, make_pdf
from tests.support.pdf_parties import NOW, make_party
from tests.support.pdf_render import box_px, count, red_mask, render_page


def _stamp(data: bytes, party, placements, **opts) -> tuple[bytes, object]:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    result = stamp(data, out, party.signer, party.seal, placements, StampOptions(**opts))
    return out.getvalue(), result


def _assert_red_only_in(
    pdf: bytes, page_index: int, boxes_mm: list[tuple[float, float, float, float]]
) -> None:
    mask = red_mask(render_page(pdf, page_index))
    total = count(mask)
    assert total > 200, "no seal drawn on the page"
    inside = 0
    for box in boxes_mm:
        n = count(mask, box_px(box))
        assert n > 20, f"no seal pixels inside {box}"
        inside += n
    assert inside >= total * 0.99, f"{total - inside} red pixels outside the placement boxes"


def test_at_draws_seal_at_true_size_inside_box(sm2_party) -> None:
    data = contract_pdf(2)
    pdf, result = _stamp(data, sm2_party, [At(page=1, x=100, y=120)])
    assert result.signature_ids == ["SealBridge_Seal_1"]
    assert result.pages == [1]
    assert result.boxes == [(1, 80.0, 100.0, 40.0, 40.0)]  # centre 100,120; 40 mm seal
    _assert_red_only_in(pdf, 0, [(80.0, 100.0, 40.0, 40.0)])
    mask = red_mask(render_page(pdf, 0))
    x0, y0, x1, y1 = mask.getbbox()
    px_per_mm = box_px((0, 0, 1, 1))[2]
    # The drawn ring spans (nearly) the full 40 mm: the picture is drawn at its true size, not shrunk.
    assert (x1 - x0) / px_per_mm == pytest.approx(40, abs=2.5)
    assert (y1 - y0) / px_per_mm == pytest.approx(40, abs=2.5)
    # The output is an incremental update: the original bytes are its prefix.
    assert pdf[: len(data)] == data


def test_keyword_every_hit_and_nth(rsa_party) -> None:
    pages = [PageSpec(lines=[(100, 700, "甲方（盖章）：")]), PageSpec(lines=[(300, 200, "乙方（盖章）：")])]
    data = make_pdf(pages)
    pdf, result = _stamp(data, rsa_party, [Keyword("（盖章）")])
    assert result.pages == [1, 2]
    assert len(result.boxes) == 2 and len(result.signature_ids) == 1  # one seal, two widgets
    for page, *box in result.boxes:
        _assert_red_only_in(pdf, page - 1, [tuple(box)])
    pdf2, result2 = _stamp(data, rsa_party, [Keyword("（盖章）", nth=2, dx=10, dy=-5)])
    assert result2.pages == [2]
    (page, *box2) = result2.boxes[0]
    (_, *box_all) = result.boxes[1]
    assert box2[0] == pytest.approx(box_all[0] + 10) and box2[1] == pytest.approx(box_all[1] - 5)
    _assert_red_only_in(pdf2, 1, [tuple(box2)])


def test_keyword_centre_is_on_the_text(ecdsa_party) -> None:
    data = make_pdf([PageSpec(lines=[(300, 400, "盖章处")])])
    _, result = _stamp(data, ecdsa_party, [Keyword("盖章处")])
    _, left, top, w, h = result.boxes[0]
    cx_pt, cy_pt = (left + w / 2) * 72 / 25.4, (top + h / 2) * 72 / 25.4
    # text starts at x=300 pt, 3 glyphs of 14 pt; baseline at y=400 pt from the bottom
    assert 300 < cx_pt < 300 + 3 * 14
    assert A4[1] - 400 - 14 < cy_pt < A4[1] - 400 + 4


def test_seam_one_strip_per_page_one_signature(sm2_party) -> None:
    data = contract_pdf(4)
    pdf, result = _stamp(data, sm2_party, [Seam(side="right", first_page=2, last_page=4, offset=100)])
    assert result.signature_ids == ["SealBridge_Seal_1"]
    assert result.pages == [2, 3, 4]
    page_w_mm = A4[0] * 25.4 / 72
    for page, left, top, w, h in result.boxes:
        assert w == pytest.approx(40 / 3) and h == pytest.approx(40)
        assert left + w == pytest.approx(page_w_mm)
        assert top + h / 2 == pytest.approx(100)
        _assert_red_only_in(pdf, page - 1, [(left, top, w, h)])
    assert count(red_mask(render_page(pdf, 0))) == 0  # page 1 is not part of the seam
    report = verify(pdf, VerifyOptions(trust_anchors=[sm2_party.root]))
    assert [s.verdict for s in report.seals] == ["valid"]
    assert report.seals[0].extra["pages"] == [2, 3, 4]


def test_seam_bottom(rsa_party) -> None:
    data = contract_pdf(2)
    pdf, result = _stamp(data, rsa_party, [Seam(side="bottom")])
    page_h_mm = A4[1] * 25.4 / 72
    for page, left, top, w, h in result.boxes:
        assert h == pytest.approx(20) and top + h == pytest.approx(page_h_mm)
        _assert_red_only_in(pdf, page - 1, [(left, top, w, h)])


def _quadrant_seal(seal_maker, party_kind: str = "sm2"):  # type: ignore[no-untyped-def]
    """A 40 x 20 mm picture, red only in its top-left quarter: shows size, position and orientation."""
    img = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 199, 99), fill=(220, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return make_party(party_kind, seal_maker, buf.getvalue(), picture=("png", buf.getvalue(), 40, 20))


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_rotated_page_with_cropbox_keeps_seal_upright(seal_maker, rotate: int) -> None:
    party = _quadrant_seal(seal_maker)
    spec = PageSpec(
        lines=[(120, 500, "盖章处")], rotate=rotate, mediabox=(0, 0, *A4), cropbox=(30, 40, 560, 800)
    )
    data = make_pdf([spec])
    pdf, result = _stamp(data, party, [At(page=1, x=70, y=50)])
    _, left, top, w, h = result.boxes[0]
    assert (w, h) == (40, 20)
    # Only the seal's top-left quarter is red: it must show up in the top-left quarter of the box.
    _assert_red_only_in(pdf, 0, [(left, top, w / 2, h / 2)])


def test_keyword_on_rotated_page(seal_maker) -> None:
    party = _quadrant_seal(seal_maker, "rsa")
    data = make_pdf([PageSpec(lines=[(200, 300, "盖章处")], rotate=90, cropbox=(20, 20, 580, 820))])
    pdf, result = _stamp(data, party, [Keyword("盖章处")])
    _, left, top, w, h = result.boxes[0]
    _assert_red_only_in(pdf, 0, [(left, top, w / 2, h / 2)])


def test_several_placements_several_signatures(rsa_party) -> None:
    data = contract_pdf(3)
    pdf, result = _stamp(
        data, rsa_party, [At(1, 60, 60), At(2, 60, 60), Seam("left")], reason="合同盖章", location="北京"
    )
    assert result.signature_ids == ["SealBridge_Seal_1", "SealBridge_Seal_2", "SealBridge_Seal_3"]
    report = verify(pdf, VerifyOptions(trust_anchors=[rsa_party.root]))
    assert [s.verdict for s in report.seals] == ["valid"] * 3
    assert report.extra["revisions"] == 4
    # a further stamp on the stamped file gets the next free field name
    pdf2, result2 = _stamp(pdf, rsa_party, [At(3, 100, 100)])
    assert result2.signature_ids == ["SealBridge_Seal_4"]
    assert [s.verdict for s in verify(pdf2, VerifyOptions(trust_anchors=[rsa_party.root])).seals] == [
        "valid"
    ] * 4


class _WriteOnly(io.RawIOBase):
    """An output that cannot be read back or seeked (a pipe, a socket)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def]
        self.buf += bytes(b)
        return len(b)


def test_write_only_output(sm2_party) -> None:
    data = contract_pdf(2)
    out = _WriteOnly()
    stamp(data, out, sm2_party.signer, sm2_party.seal, [At(1, 50, 50), At(2, 50, 50)], StampOptions())
    report = verify(bytes(out.buf), VerifyOptions(trust_anchors=[sm2_party.root]))
    assert [s.verdict for s in report.seals] == ["valid", "valid"]


def test_seal_not_bound_to_signer_is_refused(sm2_party, rsa_party) -> None:
    with pytest.raises(SealBridgeError) as err:
        stamp(
            contract_pdf(1), io.BytesIO(), rsa_party.signer, sm2_party.seal, [At(1, 50, 50)], StampOptions()
        )
    assert err.value.code == "SEAL_NOT_FOR_SIGNER"


def test_expired_seal_is_refused(seal_maker, seal_picture) -> None:
    party = make_party(
        "sm2",
        seal_maker,
        seal_picture,
        valid_start=NOW - timedelta(days=30),
        valid_end=NOW - timedelta(days=1),
    )
    with pytest.raises(SealBridgeError) as err:
        stamp(contract_pdf(1), io.BytesIO(), party.signer, party.seal, [At(1, 50, 50)], StampOptions())
    assert err.value.code == "SEAL_EXPIRED"


@pytest.mark.parametrize(
    "placement",
    [
        At(page=3, x=50, y=50),
        At(page=1, x=500, y=50),
        Keyword("不存在的词"),
        Keyword("甲方", nth=9),
        Seam(first_page=2),
    ],
)
def test_bad_placements(rsa_party, placement) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SealBridgeError) as err:
        stamp(contract_pdf(2), io.BytesIO(), rsa_party.signer, rsa_party.seal, [placement], StampOptions())
    assert err.value.code == "PLACEMENT_INVALID"


@pytest.mark.parametrize("garbage", [b"", b"not a pdf at all", b"%PDF-1.7\n1 0 obj\n<<\n", b"\x00" * 1000])
def test_garbage_input(rsa_party, garbage: bytes) -> None:
    with pytest.raises(SealBridgeError) as err:
        stamp(garbage, io.BytesIO(), rsa_party.signer, rsa_party.seal, [At(1, 50, 50)], StampOptions())
    assert err.value.code == "DOC_MALFORMED"


def test_input_bytes_unchanged(sm2_party) -> None:
    data = contract_pdf(1)
    copy = bytes(bytearray(data))
    _stamp(data, sm2_party, [At(1, 50, 50)])
    assert data == copy


def _encrypted(data: bytes, user: str) -> bytes:
    import pikepdf

    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user=user, owner="owner-secret"))
    return out.getvalue()


@pytest.mark.parametrize("user_password", ["", "open-me"])
def test_encrypted_pdf_is_unsupported_not_a_crash(rsa_party, user_password: str) -> None:
    data = _encrypted(contract_pdf(1), user_password)
    with pytest.raises(SealBridgeError) as err:
        stamp(data, io.BytesIO(), rsa_party.signer, rsa_party.seal, [At(1, 50, 50)], StampOptions())
    assert err.value.code == "DOC_UNSUPPORTED"
    if user_password:  # unreadable without the password: verification cannot even list the signatures
        with pytest.raises(SealBridgeError) as err:
            verify(data)
        assert err.value.code == "DOC_UNSUPPORTED"
    else:  # readable: an unsigned document
        assert verify(data).verdict == "no_seals"


def test_a_number_that_is_none_is_a_malformed_document(rsa_party) -> None:  # type: ignore[no-untyped-def]
    """`841..9` where a MediaBox number belongs (the cross-reference still right): pyHanko's number parser
    raises decimal.InvalidOperation; the stamp refuses the document as malformed, through the format table
    the CLI and the agent use as well as directly."""
    import pikepdf

    from stamping.documents import format_named

    out = io.BytesIO()
    pikepdf.open(io.BytesIO(contract_pdf(2))).save(
        out, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable
    )
    good = out.getvalue()
    bad = good.replace(b"841.89 ]", b"841..9 ]", 1)
    assert len(bad) == len(good) and bad != good
    for stamper in (stamp, format_named("pdf").stamp):
        with pytest.raises(SealBridgeError) as err:
            stamper(bad, io.BytesIO(), rsa_party.signer, rsa_party.seal, [At(1, 50, 50)], StampOptions())
        assert err.value.code == "DOC_MALFORMED"
