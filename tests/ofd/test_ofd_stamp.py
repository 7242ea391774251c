"""Stamping OFD: structure of the new signature, a round trip through our verifier, locks, raw copies."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, load_document, read_signature_list, read_signature_xml
from formats.ses import parse_signature
from stamping.ofd import stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At, Keyword, Seam
from stamping.report import Check


def _stamp(data: bytes, pki, placements, **kw) -> tuple[bytes, object]:
    out = io.BytesIO()
    res = stamp(
        data, out, kw.pop("signer", pki.signer), kw.pop("seal", pki.seal), placements, StampOptions(**kw)
    )
    return out.getvalue(), res


def _opts(pki) -> VerifyOptions:
    return VerifyOptions(trust_anchors=[pki.root_cert])


def test_stamp_unsigned_sample_then_verify_valid(ofd_samples, pki):
    data = (ofd_samples / "unsigned-helloworld.ofd").read_bytes()
    out, res = _stamp(data, pki, [At(page=1, x=100, y=150)])
    assert res.format == "ofd" and res.signature_ids == ["Sign_0"] and res.pages == [1]
    assert res.boxes == [(1, 80.0, 130.0, 40.0, 40.0)]  # centre 100,150; the seal's true 40×40 mm
    pkg = OfdPackage(out)
    doc = load_document(pkg)
    assert doc.signatures_path == "/Doc_0/Signs/Signatures.xml"  # created and linked from OFD.xml
    entries, max_id = read_signature_list(pkg, doc.signatures_path)
    assert len(entries) == 1 and entries[0].type == "Seal"
    sig = read_signature_xml(pkg, entries[0].path)
    assert sig.check_method == "1.2.156.10197.1.401"
    refs = {r.path for r in sig.references}
    assert "/Doc_0/Signs/Signatures.xml" not in refs  # not locked
    assert {"/OFD.xml", "/Doc_0/Document.xml", "/Doc_0/Signs/Sign_0/Seal.esl"} <= refs
    assert sig.stamp_annots[0].page_ref == "1" and sig.stamp_annots[0].boundary == (80, 130, 40, 40)
    assert pkg.read(sig.seal_path) == pki.seal
    value = parse_signature(pkg.read(sig.signed_value_path))
    assert value.version == 4 and value.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    report = verify(out, _opts(pki))
    assert report.verdict == "valid", report.to_dict()
    seal = report.seals[0]
    assert seal.seal is not None and seal.seal.esID == "3201000000001" and seal.seal.picture_png_base64
    assert seal.signer is not None and "张三" in seal.signer.subject


def test_second_stamp_keeps_first_valid_and_copies_entries_raw(simple_ofd, pki):
    first, _ = _stamp(simple_ofd, pki, [At(page=1, x=60, y=60)])
    second, res = _stamp(first, pki, [At(page=2, x=60, y=60)], signer=pki.signer)
    assert res.signature_ids == ["Sign_1"]
    report = verify(second, _opts(pki))
    assert [s.verdict for s in report.seals] == ["valid", "valid"], report.to_dict()
    # unchanged entries: identical compressed bytes and CRC
    za, zb = zipfile.ZipFile(io.BytesIO(first)), zipfile.ZipFile(io.BytesIO(second))
    changed = {"Doc_0/Signs/Signatures.xml"}
    for info in za.infolist():
        if info.filename in changed:
            continue
        other = zb.getinfo(info.filename)
        assert _raw(first, info) == _raw(second, other), info.filename
        assert info.CRC == other.CRC and info.compress_type == other.compress_type
    assert zb.testzip() is None


def _raw(data: bytes, info: zipfile.ZipInfo) -> bytes:
    off = info.header_offset
    name_len = int.from_bytes(data[off + 26 : off + 28], "little")
    extra_len = int.from_bytes(data[off + 28 : off + 30], "little")
    start = off + 30 + name_len + extra_len
    return data[start : start + info.compress_size]


def test_lock_refuses_later_seal(simple_ofd, pki):
    locked, _ = _stamp(simple_ofd, pki, [At(page=1, x=60, y=60)], lock=True)
    pkg = OfdPackage(locked)
    sig = read_signature_xml(pkg, "/Doc_0/Signs/Sign_0/Signature.xml")
    assert "/Doc_0/Signs/Signatures.xml" in {r.path for r in sig.references}
    assert verify(locked, _opts(pki)).verdict == "valid"
    with pytest.raises(SealBridgeError) as err:
        _stamp(locked, pki, [At(page=1, x=60, y=60)])
    assert err.value.code == "DOC_LOCKED"


def test_allprotected_sample_is_locked(ofd_samples, pki):
    data = (ofd_samples / "ofdrw-v4-allprotected.ofd").read_bytes()
    with pytest.raises(SealBridgeError) as err:
        _stamp(data, pki, [At(page=1, x=60, y=60)])
    assert err.value.code == "DOC_LOCKED" and "locked by seal" in err.value.detail


def test_stamp_on_signed_sample_keeps_it_and_adds_ours(ofd_samples, pki):
    data = (ofd_samples / "kinggrid-v4-relative-baseloc.ofd").read_bytes()
    out, res = _stamp(data, pki, [At(page=2, x=100, y=100)])
    assert res.signature_ids == ["Sign_1"]
    report = verify(out, _opts(pki))
    old, new = report.seals
    assert old.checks["integrity"].status == "ok" and old.checks["signature"].status == "ok"
    assert new.verdict == "valid", new.to_dict()
    entries, max_id = read_signature_list(OfdPackage(out), "/Doc_0/Signs/Signatures.xml")
    # IDs continue above every ID in use (MaxSignId 2, Signature 1, StampAnnot 01), in the file's style
    assert [e.id for e in entries] == ["1", "03"] and max_id == "04"
    assert entries[0].path == "/Doc_0/Signs/Sign_0/Signature.xml"  # relative BaseLoc kept as written


def test_expired_seal_refused(simple_ofd, pki):
    old = pki.make_seal(
        start=datetime.now(UTC) - timedelta(days=400), end=datetime.now(UTC) - timedelta(days=1)
    )
    with pytest.raises(SealBridgeError) as err:
        _stamp(simple_ofd, pki, [At(page=1, x=60, y=60)], seal=old)
    assert err.value.code == "SEAL_EXPIRED"


def test_seal_not_for_signer_refused(simple_ofd, pki):
    with pytest.raises(SealBridgeError) as err:
        _stamp(simple_ofd, pki, [At(page=1, x=60, y=60)], signer=pki.other_signer)
    assert err.value.code == "SEAL_NOT_FOR_SIGNER"


def test_bad_placements(simple_ofd, pki):
    for placement in (At(page=3, x=10, y=10), At(page=1, x=500, y=10), Keyword("不存在的文字")):
        with pytest.raises(SealBridgeError) as err:
            _stamp(simple_ofd, pki, [placement])
        assert err.value.code == "PLACEMENT_INVALID"


def test_keyword_placement_every_hit_and_nth(pki, build_ofd, text_obj):
    data = build_ofd([text_obj("盖章处", 20, 100), text_obj("盖章处 again 盖章处", 20, 200, oid=301)])
    _, res = _stamp(data, pki, [Keyword("盖章处")])
    assert len(res.boxes) == 3
    _, res = _stamp(data, pki, [Keyword("盖章处", nth=2, dx=5, dy=-5)])
    ((page, x, y, w, h),) = res.boxes
    # 2nd hit (page 2): TextObject at (20, 200), size 5: glyphs 0..3 advance 5 mm, baseline y=5 → box y 201..206
    assert (
        page == 2 and abs((x + w / 2) - (20 + 7.5 + 5)) < 1e-6 and abs((y + h / 2) - (200 + 3.5 - 5)) < 1e-6
    )


def test_riding_seam_clips(pki, build_ofd):
    data = build_ofd(["", "", "", ""])
    out, res = _stamp(data, pki, [Seam(side="right", offset=100)])
    sig = read_signature_xml(OfdPackage(out), "/Doc_0/Signs/Sign_0/Signature.xml")
    assert [a.page_ref for a in sig.stamp_annots] == ["10", "11", "12", "13"]
    for i, a in enumerate(sig.stamp_annots):
        assert a.boundary == (210 - (i + 1) * 10, 80, 40, 40)
        assert a.clip == (i * 10, 0, 10, 40)
        # exactly the clipped slice lies on the page: [x+clip.x, x+clip.x+clip.w] = [200, 210]
        assert a.boundary[0] + a.clip[0] == 200
    assert verify(out, _opts(pki)).verdict == "valid"
    _, res = _stamp(data, pki, [Seam(side="top", first_page=2, last_page=3)])
    assert [b[0] for b in res.boxes] == [2, 3]


def test_input_untouched_and_mixed_placements(simple_ofd, pki):
    before = bytes(simple_ofd)
    out, res = _stamp(simple_ofd, pki, [At(page=1, x=50, y=50), Keyword("示例科技"), Seam(side="left")])
    assert simple_ofd == before
    assert res.pages == [1, 2] and len(res.boxes) == 4
    assert verify(out, _opts(pki)).verdict == "valid"


def test_platform_status_is_asked_with_esid_and_signing_time(simple_ofd, pki):
    out, _ = _stamp(simple_ofd, pki, [At(page=1, x=60, y=60)])
    asked = []

    def revoked(esid, signed_at):
        asked.append((esid, signed_at))
        return Check.failed("revoked now (since yesterday); active at signing time")

    report = verify(out, VerifyOptions(trust_anchors=[pki.root_cert], status_lookup=revoked))
    ((esid, when),) = asked
    assert esid == "3201000000001" and abs((datetime.now(UTC) - when).total_seconds()) < 120
    assert report.seals[0].checks["platform_status"].status == "failed" and report.verdict == "invalid"


def test_new_parts_follow_the_documents_namespace(ofd_samples, pki, build_ofd):
    # kinggrid-v1: OFD.xml in the old http://www.ofdspec.org namespace, its signatures in the 2016 one
    out, _ = _stamp((ofd_samples / "kinggrid-v1.ofd").read_bytes(), pki, [At(page=2, x=100, y=100)])
    assert b'xmlns:ofd="http://www.ofdspec.org/2016"' in zipfile.ZipFile(io.BytesIO(out)).read(
        "Doc_0/Signs/Sign_1/Signature.xml"
    )
    old = build_ofd([""])
    src = zipfile.ZipFile(io.BytesIO(old))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            z.writestr(
                info.filename,
                src.read(info.filename).replace(b"http://www.ofdspec.org/2016", b"http://www.ofdspec.org"),
            )
    out, _ = _stamp(buf.getvalue(), pki, [At(page=1, x=100, y=100)])
    z = zipfile.ZipFile(io.BytesIO(out))
    for name in ("Doc_0/Signs/Signatures.xml", "Doc_0/Signs/Sign_0/Signature.xml", "OFD.xml"):
        assert b'xmlns:ofd="http://www.ofdspec.org"' in z.read(name), name
    assert verify(out, _opts(pki)).verdict == "valid"


def test_id_allocator_keeps_the_files_style():
    from stamping.ofd.sigxml import IdAllocator

    ids = IdAllocator(["s001", "s006", "s002"])
    assert [ids.take(), ids.take()] == ["s007", "s008"]
    assert IdAllocator(["1", "2"]).take() == "3"
    assert IdAllocator(["001", "002"]).take() == "003"
    assert IdAllocator([]).take() == "1"
