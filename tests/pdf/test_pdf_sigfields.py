"""The verifier lists a PDF's signatures from pyHanko's parse (stamping.pdf.sigfields) and falls back to the
pikepdf scan (stamping.pdf.sigscan) where the structure is unusual: both must list the same signatures,
with the same names, SubFilters, byte ranges, pages and field references, on every document either reads,
and the report must not depend on which one ran."""

from __future__ import annotations

import importlib
import io
import warnings

import pikepdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from stamping.pdf import sigfields, verify
from stamping.pdf.sigscan import scan_signatures
from stamping.placement import At
from tests.support.pdf_flows import pyhanko_sign, stamp_pdf, trusting
from tests.support.pdf_maker import contract_pdf


def _parsed(pdf: bytes) -> list:
    return sigfields.scan_parsed(PdfFileReader(io.BytesIO(pdf), strict=False))


def _edited(pdf: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    """The document rewritten by pikepdf after edit(pdf) (a full rewrite: structure tests, not signatures)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pikepdf's note on the widget hung only on a page: meant
        edit(doc)
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


def _sig_value(doc: pikepdf.Pdf, subfilter: str = "/ETSI.CAdES.detached") -> pikepdf.Object:
    return doc.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Sig,
            Filter=pikepdf.Name("/Adobe.PPKLite"),
            SubFilter=pikepdf.Name(subfilter),
            ByteRange=pikepdf.Array([0, 10, 20, 5]),
            Contents=pikepdf.String(b"\x30\x03\x02\x01\x00"),
        )
    )


def _tree(doc: pikepdf.Pdf) -> None:
    """Fields of every shape the walk knows: nested names, a widget kid, a field without /FT whose value
    is a signature, an empty field, a direct field, and a widget only in a page's /Annots."""
    page1, page2 = doc.pages[0].obj, doc.pages[1].obj
    widget = doc.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, P=page2)
    )
    nested = doc.make_indirect(
        pikepdf.Dictionary(T=pikepdf.String("内层"), FT=pikepdf.Name.Sig, V=_sig_value(doc), Kids=[widget])
    )
    parent = doc.make_indirect(pikepdf.Dictionary(T=pikepdf.String("外层"), Kids=[nested]))
    no_ft = doc.make_indirect(
        pikepdf.Dictionary(T=pikepdf.String("NoFT"), V=_sig_value(doc, "/GM.sm2seal"), P=page1)
    )
    empty = doc.make_indirect(pikepdf.Dictionary(T=pikepdf.String("Empty"), FT=pikepdf.Name.Sig))
    direct = pikepdf.Dictionary(T=pikepdf.String("Direct"), FT=pikepdf.Name.Sig, V=_sig_value(doc))
    loose = doc.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig,
            V=_sig_value(doc, "/adbe.pkcs7.detached"), P=page1,
        )
    )  # fmt: skip
    page1.Annots = pikepdf.Array([no_ft, loose])
    page2.Annots = pikepdf.Array([widget])
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=[parent, no_ft, empty, direct])


def test_both_scans_list_the_same_signatures(sm2_party, ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    sealed = stamp_pdf(stamp_pdf(contract_pdf(2), sm2_party, [At(1, 40, 40)]), ecdsa_party, [At(2, 40, 40)])
    documents = {
        "sealed": sealed,
        "signed by pyHanko too": pyhanko_sign(sealed, ecdsa_party, "Stock"),
        "a vendor SubFilter": sealed.replace(
            b"/SubFilter /ETSI.CAdES.detached", b"/SubFilter /GM.sm2seal         ", 1
        ),
        "field tree": _edited(contract_pdf(2), _tree),
        "unsigned": contract_pdf(1),
    }
    for what, pdf in documents.items():
        parsed = _parsed(pdf)
        assert parsed == scan_signatures(pdf), what
        assert (len(parsed) > 0) == (what != "unsigned"), what
    tree = {s.field_name: s for s in _parsed(documents["field tree"])}
    assert set(tree) == {"外层.内层", "NoFT", "Direct", "(page 1 widget)"}
    assert tree["外层.内层"].pages == (2,) and tree["NoFT"].pages == (1,)
    assert tree["NoFT"].subfilter == "/GM.sm2seal" and tree["Direct"].field_ref is None
    assert tree["外层.内层"].byte_range == (0, 10, 20, 5) and tree["外层.内层"].contents_len == 5


def _loop(doc: pikepdf.Pdf) -> None:
    kids = doc.Root.Pages.Kids
    kids.append(doc.Root.Pages)  # the page tree contains itself


def _untyped_leaf(doc: pikepdf.Pdf) -> None:
    del doc.pages[0].obj["/Type"]


@pytest.mark.parametrize("edit", [_loop, _untyped_leaf], ids=["page tree loop", "leaf without /Type"])
def test_an_unusual_page_tree_goes_to_the_pikepdf_scan(edit) -> None:  # type: ignore[no-untyped-def]
    pdf = _edited(contract_pdf(2), edit)
    with pytest.raises(sigfields.Unusual):
        _parsed(pdf)


def test_an_encrypted_document_goes_to_the_pikepdf_scan() -> None:
    with pikepdf.open(io.BytesIO(contract_pdf(1))) as doc:
        out = io.BytesIO()
        doc.save(out, encryption=pikepdf.Encryption(owner="o", user=""))
    with pytest.raises(sigfields.Unusual):
        _parsed(out.getvalue())


def test_the_report_does_not_depend_on_the_scan(sm2_party, ecdsa_party, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sealed = stamp_pdf(stamp_pdf(contract_pdf(2), sm2_party, [At(1, 40, 40)]), ecdsa_party, [At(2, 40, 40)])
    vendor = sealed.replace(b"/SubFilter /ETSI.CAdES.detached", b"/SubFilter /GM.sm2seal         ", 1)
    tampered = bytearray(sealed)
    tampered[sealed.index(b"/ByteRange") - 200] ^= 1
    options = trusting(sm2_party, ecdsa_party)

    def summary(pdf: bytes) -> list:
        seals = verify(pdf, options).to_dict()["seals"]
        for seal in seals:
            seal.pop("best_signature_time", None)
        return seals

    documents = [sealed, vendor, bytes(tampered)]
    parsed = [summary(pdf) for pdf in documents]

    def unusual(reader):  # type: ignore[no-untyped-def]
        raise sigfields.Unusual("as if")

    monkeypatch.setattr(importlib.import_module("stamping.pdf.verify"), "scan_parsed", unusual)
    assert [summary(pdf) for pdf in documents] == parsed
    assert [s["verdict"] for s in parsed[0]] == ["valid", "valid"]
    assert [s["verdict"] for s in parsed[1]][0] == "indeterminate"


def test_a_key_defined_twice_goes_to_the_pikepdf_scan(sm2_party, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """pyHanko reads the first of two /V entries (here a name), qpdf the last (the signature): a document
    that damaged is listed as the pikepdf scan lists it, so the seal is not lost from the report."""
    pdf = stamp_pdf(contract_pdf(1), sm2_party)
    assert pdf.count(b"/FT /Sig") == 1
    damaged = pdf.replace(b"/FT /Sig", b"/V  /Sig")
    with sigfields.duplicate_keys() as twice:
        _parsed(damaged)
    assert twice and "/V" in twice[0]
    report = verify(damaged, trusting(sm2_party))
    assert [s.id for s in report.seals] == [s.field_name for s in scan_signatures(damaged)] != []

    def unusual(reader):  # type: ignore[no-untyped-def]
        raise sigfields.Unusual("as if")

    def seals(report) -> list:  # type: ignore[no-untyped-def]
        return [{k: v for k, v in s.items() if k != "best_signature_time"} for s in report.to_dict()["seals"]]

    listed = seals(report)
    monkeypatch.setattr(importlib.import_module("stamping.pdf.verify"), "scan_parsed", unusual)
    assert seals(verify(damaged, trusting(sm2_party))) == listed
