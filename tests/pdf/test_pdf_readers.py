"""What recipients see: every common PDF engine draws the seal inside its box, on screen and in print.

Engines: pdfium with its form layer (Chrome, many 信创 readers; screen and FPDF_PRINTING), poppler
(pdftoppm: Evince, Okular) and MuPDF (mutool: SumatraPDF and many MuPDF-based desktop readers). pdfium
without its form layer draws no widget annotation at all, from any producer (docs/verification.md, "What the readers draw"),
so it is not a target here. Plus the structure those engines rely on, `qpdf --check`, poppler's pdfsig
and pyHanko's own validator.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image, ImageDraw

from stamping.options import StampOptions
from stamping.pdf import stamp
from stamping.placement import At, Keyword, Seam
from tests.support.pdf_maker import PageSpec, contract_pdf, make_pdf
from tests.support.pdf_parties import make_party
from tests.support.pdf_readers import mutool_draw, render, run_tool
from tests.support.pdf_render import box_px, count, red_mask

ENGINES = ("pdfium", "pdfium-print", "poppler", "mupdf")
_ANNOT_PRINT, _ANNOT_HIDDEN, _ANNOT_NOVIEW = 4, 2, 32


def _stamp(data: bytes, party, placements) -> tuple[bytes, object]:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    result = stamp(data, out, party.signer, party.seal, placements, StampOptions())
    return out.getvalue(), result


def _assert_drawn_inside(engine: str, pdf: bytes, page: int, box_mm: tuple[float, ...]) -> None:
    mask = red_mask(render(engine, pdf, page - 1))
    total = count(mask)
    inside = count(mask, box_px(box_mm))  # type: ignore[arg-type]
    assert total > 150, f"{engine}: no seal drawn on page {page}"
    assert inside >= total * 0.99, f"{engine}: {total - inside} of {total} red pixels outside {box_mm}"


def _quadrant_party(seal_maker, kind: str):  # type: ignore[no-untyped-def]
    """A 40 x 20 mm picture, red only in its top-left quarter: shows position, size and orientation."""
    img = Image.new("RGBA", (480, 240), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 239, 119), fill=(220, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return make_party(kind, seal_maker, buf.getvalue(), picture=("png", buf.getvalue(), 40, 20))


@pytest.fixture(scope="module", params=["sm2", "ecdsa"])
def quadrant_party(request, seal_maker):  # type: ignore[no-untyped-def]
    return _quadrant_party(seal_maker, request.param)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rotate", [0, 90, 270])
def test_coordinates_on_rotated_cropped_page(engine: str, rotate: int, quadrant_party) -> None:  # type: ignore[no-untyped-def]
    spec = PageSpec(lines=[(120, 500, "盖章处")], rotate=rotate, cropbox=(30, 40, 560, 800))
    pdf, result = _stamp(make_pdf([spec]), quadrant_party, [At(page=1, x=70, y=60)])
    page, left, top, w, h = result.boxes[0]
    # Only the picture's top-left quarter is red: it must land in the top-left quarter of the box.
    _assert_drawn_inside(engine, pdf, page, (left, top, w / 2, h / 2))


@pytest.mark.parametrize("engine", ENGINES)
def test_keyword_hits_each_drawn(engine: str, sm2_party) -> None:  # type: ignore[no-untyped-def]
    pages = [PageSpec(lines=[(100, 700, "甲方（盖章）：")]), PageSpec(lines=[(300, 200, "乙方（盖章）：")])]
    pdf, result = _stamp(make_pdf(pages), sm2_party, [Keyword("（盖章）")])
    assert len(result.boxes) == 2
    for page, *box in result.boxes:
        _assert_drawn_inside(engine, pdf, page, tuple(box))


@pytest.mark.parametrize("engine", ENGINES)
def test_seam_strips_each_drawn(engine: str, ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    pdf, result = _stamp(contract_pdf(3), ecdsa_party, [Seam(side="right")])
    assert [b[0] for b in result.boxes] == [1, 2, 3]
    for page, *box in result.boxes:
        _assert_drawn_inside(engine, pdf, page, tuple(box))


def _widget_flags(pdf: bytes) -> list[int]:
    """Each seal widget's /F, after checking its link to the field and page, its BBox and its image."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        out = []
        for page in doc.pages:
            for annot in page.obj.get("/Annots", []):
                if annot.get("/Subtype") == "/Widget":
                    out.append(int(annot.F))
                    field = annot if "/FT" in annot else annot.get("/Parent")
                    assert field is not None and field.get("/FT") == "/Sig", "widget not linked to its field"
                    assert annot.get("/P") is not None and annot.P.objgen == page.obj.objgen
                    assert [float(v) for v in annot.AP.N.BBox] == [0, 0, *_size(annot.Rect)]
                    image = next(iter(annot.AP.N.Resources.XObject.values()))
                    assert image.Subtype == "/Image" and image.ColorSpace[0] == "/Indexed"
                    assert image.SMask.BitsPerComponent == 4
                    image.read_bytes(), image.SMask.read_bytes()  # decodes completely
        return out


def _size(rect: pikepdf.Array) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in rect)
    return [pytest.approx(abs(x1 - x0), abs=1e-3), pytest.approx(abs(y1 - y0), abs=1e-3)]


def test_widget_structure_print_flag_and_image(sm2_party) -> None:  # type: ignore[no-untyped-def]
    pdf, _ = _stamp(contract_pdf(2), sm2_party, [At(page=1, x=100, y=100), Seam(side="right")])
    flags_each = _widget_flags(pdf)
    assert len(flags_each) == 3  # one merged field-widget, two seam strips as kids of one field
    for flags in flags_each:
        assert flags & _ANNOT_PRINT and not flags & (_ANNOT_HIDDEN | _ANNOT_NOVIEW)


@pytest.mark.parametrize("kind", ["sm2", "rsa", "ecdsa"])
def test_qpdf_and_mutool_find_nothing_wrong(kind: str, seal_maker, seal_picture) -> None:  # type: ignore[no-untyped-def]
    party = make_party(kind, seal_maker, seal_picture)
    pdf, _ = _stamp(contract_pdf(2), party, [At(page=1, x=100, y=100), Seam(side="bottom")])
    check = run_tool("qpdf", "--check", data=pdf)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors found" in check.stdout
    for page in (0, 1):
        _, notes = mutool_draw(pdf, page)
        assert notes == [], f"mutool warned: {notes}"


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_pdfsig_says_valid(kind: str, seal_maker, seal_picture) -> None:  # type: ignore[no-untyped-def]
    party = make_party(kind, seal_maker, seal_picture)
    pdf, _ = _stamp(contract_pdf(1), party, [At(page=1, x=60, y=60), At(page=1, x=150, y=60)])
    out = run_tool("pdfsig", data=pdf)
    assert out.stdout.count("Signature Validation: Signature is Valid.") == 2, out.stdout + out.stderr
    assert "not signed" not in out.stdout


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_stock_pyhanko_validates(kind: str, seal_maker, seal_picture) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    party = make_party(kind, seal_maker, seal_picture)
    pdf, _ = _stamp(contract_pdf(1), party, [At(page=1, x=60, y=60), Keyword("盖章处")])
    reader = PdfFileReader(io.BytesIO(pdf))
    vc = ValidationContext(trust_roots=[x509.Certificate.load(party.root)])
    sigs = reader.embedded_signatures
    assert len(sigs) == 2
    for sig in sigs:
        status = validate_pdf_signature(sig, vc)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
