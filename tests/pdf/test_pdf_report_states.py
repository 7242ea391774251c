"""Report v2 for PDF states (issue 15): altered inside the byte range, changed by a later incremental update,
an unsigned but allowed later revision (UNSIGNED_CHANGES_AFTER), and a later seal (no warning)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from stamping.messages import render_reason
from stamping.options import StampOptions, VerifyOptions
from stamping.pdf import stamp, verify
from stamping.placement import At
from tests.support.pdf_maker import append_page, contract_pdf


def _sealed(party, data: bytes | None = None) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    stamp(data or contract_pdf(2), out, party.signer, party.seal, [At(1, 60, 60)], StampOptions())
    return out.getvalue()


SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report-v2.schema.json").read_text())


def _report(pdf: bytes, *parties) -> dict:  # type: ignore[no-untyped-def]
    report = verify(pdf, VerifyOptions(trust_anchors=[p.root for p in parties])).to_dict()
    jsonschema.Draft202012Validator(SCHEMA).validate(report)  # every state's report fits the published schema
    return report


def test_valid_pdf_report_v2_fields(sm2_party) -> None:  # type: ignore[no-untyped-def]
    report = _report(_sealed(sm2_party), sm2_party)
    s = report["seals"][0]
    assert (report["verdict"], s["indication"], s["sub_indication"]) == ("valid", "TOTAL_PASSED", None)
    assert report["report_version"] == 2 and report["document"]["pages"] == 2
    assert s["signature"]["algorithm"] == "SM2-with-SM3"
    assert s["covers"]["pages"] == [1] and s["covers"]["whole_document"] is True
    assert len(s["covers"]["byte_ranges"]) == 2
    assert s["signer"]["name"] and "=" not in s["signer"]["name"]  # a name, not a distinguished name


def test_byte_changed_inside_the_range(sm2_party) -> None:  # type: ignore[no-untyped-def]
    pdf = bytearray(_sealed(sm2_party))
    pos = pdf.index(b"Contract page 1")
    pdf[pos] = ord("X")
    report = _report(bytes(pdf), sm2_party)
    s = report["seals"][0]
    assert (s["indication"], s["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert render_reason(report["headline"], "zh") == "文档在盖章后被修改"
    reason = s["checks"]["integrity"]["reasons"][0]
    assert reason["code"] == "BYTE_RANGE_DIGEST_MISMATCH"
    assert render_reason(reason, "zh") == "盖章范围内的内容已被改动（SM3 摘要不一致）"
    assert render_reason(reason, "en") == "The sealed content was changed (SM3 digest does not match)"


def test_page_added_by_a_later_incremental_update(sm2_party) -> None:  # type: ignore[no-untyped-def]
    report = _report(append_page(_sealed(sm2_party)), sm2_party)
    s = report["seals"][0]
    assert s["checks"]["integrity"]["status"] == "ok"  # what was sealed is intact …
    assert s["checks"]["changes_after"]["reasons"][0]["code"] == "CHANGES_NOT_ALLOWED"  # … but more was added
    assert (s["indication"], s["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert render_reason(report["headline"], "en") == "The document was changed after it was sealed"


def test_unsigned_allowed_revision_is_a_warning(sm2_party) -> None:  # type: ignore[no-untyped-def]
    writer = IncrementalPdfFileWriter(io.BytesIO(_sealed(sm2_party)))
    writer.update_root()  # an incremental update that signs nothing
    out = io.BytesIO()
    writer.write(out)
    report = _report(out.getvalue(), sm2_party)
    s = report["seals"][0]
    assert report["verdict"] == "valid", s["checks"]["changes_after"]
    warning = next(w for w in s["warnings"] if w["code"] == "UNSIGNED_CHANGES_AFTER")
    assert warning["revisions"] == 1
    assert render_reason(warning, "zh").startswith("盖章后文档又有 1 次允许范围内的改动")


def test_a_later_seal_is_no_unsigned_change(sm2_party, rsa_party) -> None:  # type: ignore[no-untyped-def]
    twice = _sealed(rsa_party, _sealed(sm2_party))
    report = _report(twice, sm2_party, rsa_party)
    assert report["verdict"] == "valid"
    first = report["seals"][0]
    assert first["checks"]["changes_after"]["reasons"][0]["code"] == "CHANGES_ALLOWED"
    assert "UNSIGNED_CHANGES_AFTER" not in [w["code"] for w in first["warnings"]]
