"""Hostile packages: every one is refused with DOC_MALFORMED or DOC_TOO_LARGE, never a traceback."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, PackageLimits, load_document, read_signature_xml
from formats.ofd.limits import DEFAULT_PACKAGE_LIMITS, zip_records_bound
from formats.ofd.xmlsafe import parse_xml
from stamping.documents import sniff
from stamping.ofd import verify
from stamping.options import VerifyOptions
from tests.support.ofd_maker import make_ofd, text_object
from tests.support.ofd_zip import replace_entry

OFD_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody>'
    b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)


def _zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def _code(data: bytes, limits: PackageLimits | None = None) -> str:
    with pytest.raises(SealBridgeError) as err:
        pkg = OfdPackage(data, limits or PackageLimits())
        load_document(pkg)
        verify(data)
    return err.value.code


def test_zip_bomb_ratio():
    bomb = _zip([("OFD.xml", OFD_XML), ("Doc_0/Res/bomb.bin", b"\0" * (20 << 20))])
    assert len(bomb) < 100_000
    assert _code(bomb) == "DOC_TOO_LARGE"


def test_total_uncompressed_limit():
    data = _zip([("OFD.xml", OFD_XML), ("a.bin", b"x" * 5000), ("b.bin", b"y" * 5000)], zipfile.ZIP_STORED)
    assert _code(data, PackageLimits(max_total_uncompressed=8000)) == "DOC_TOO_LARGE"


def test_entry_count_limit():
    data = _zip([("OFD.xml", OFD_XML)] + [(f"f{i}", b"") for i in range(20)])
    assert _code(data, PackageLimits(max_entries=10)) == "DOC_TOO_LARGE"


@pytest.mark.parametrize(
    "name", ["../evil.xml", "Doc_0/../../evil.xml", "/etc/passwd", "C:/x.xml", "a\\..\\..\\b"]
)
def test_traversal_and_absolute_names(name):
    assert _code(_zip([("OFD.xml", OFD_XML), (name, b"x")])) == "DOC_MALFORMED"


def test_duplicate_names():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, pytest.warns(UserWarning):
        z.writestr("OFD.xml", OFD_XML)
        z.writestr("OFD.xml", OFD_XML)
    assert _code(buf.getvalue()) == "DOC_MALFORMED"


def test_names_differing_only_in_case():
    data = _zip([("OFD.xml", OFD_XML), ("Doc_0/Document.xml", b"<a/>"), ("Doc_0/document.xml", b"<b/>")])
    assert _code(data) == "DOC_MALFORMED"


def test_location_escaping_the_package():
    ofd = OFD_XML.replace(b"Doc_0/Document.xml", b"../../etc/passwd")
    assert _code(_zip([("OFD.xml", ofd)])) == "DOC_MALFORMED"


def test_xxe_refused():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocRoot>&x;</ofd:DocRoot>'
        b"</ofd:DocBody></ofd:OFD>"
    )
    assert _code(_zip([("OFD.xml", xxe)])) == "DOC_MALFORMED"


def test_billion_laughs_refused():
    lol = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    lol += b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    lol += b']><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&lol9;</ofd:OFD>'
    assert _code(_zip([("OFD.xml", lol)])) == "DOC_MALFORMED"


def test_doctype_in_utf16_is_refused_after_parse():
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16")
    with pytest.raises(SealBridgeError) as err:
        parse_xml(xml)
    assert err.value.code == "DOC_MALFORMED"


def test_deep_nesting_refused():
    deep = b"<a>" * 500 + b"</a>" * 500
    with pytest.raises(SealBridgeError) as err:
        parse_xml(deep, limits=PackageLimits(max_xml_depth=100))
    assert err.value.code == "DOC_MALFORMED"


def test_xml_size_limit():
    with pytest.raises(SealBridgeError) as err:
        parse_xml(b"<a>" + b"x" * 2000 + b"</a>", limits=PackageLimits(max_xml_bytes=1000))
    assert err.value.code == "DOC_TOO_LARGE"


def test_truncated_zip(ofd_samples):
    data = (ofd_samples / "kinggrid-v4-relative-baseloc.ofd").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        assert _code(data[:cut]) == "DOC_MALFORMED"


def test_corrupted_entry_data(ofd_samples):
    data = bytearray((ofd_samples / "unsigned-helloworld.ofd").read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("Doc_0/Document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8
    assert _code(bytes(data)) == "DOC_MALFORMED"


def test_missing_ofd_xml():
    assert _code(_zip([("Doc_0/Document.xml", b"<x/>")])) == "DOC_MALFORMED"


def test_not_a_zip():
    assert _code(b"%PDF-1.7\n" + b"x" * 100) == "DOC_MALFORMED"
    assert _code(b"") == "DOC_MALFORMED"


def test_lying_sizes_in_central_directory():
    """A central directory that understates an entry's size cannot inflate past the declared size."""
    data = bytearray(_zip([("OFD.xml", OFD_XML), ("big.bin", b"\0" * 100_000)]))
    cd = data.rfind(b"PK\x01\x02")  # last central record = big.bin
    struct.pack_into("<I", data, cd + 24, 10)  # uncompressed size := 10
    pkg = OfdPackage(bytes(data))
    with pytest.raises(SealBridgeError) as err:
        pkg.read("big.bin")
    assert err.value.code == "DOC_MALFORMED"


def test_garbage_signature_files_do_not_crash(ofd_samples, build_ofd):
    """A signed document whose SignedValue.dat or Signature.xml is garbage yields a failed seal, not an error."""
    src = zipfile.ZipFile(io.BytesIO((ofd_samples / "ofdrw-v4.ofd").read_bytes()))
    for victim, junk in (
        ("Doc_0/Signs/Sign_0/SignedValue.dat", b"\x30\x80garbage"),
        ("Doc_0/Signs/Sign_0/Signature.xml", b"<not xml"),
    ):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for info in src.infolist():
                z.writestr(info.filename, junk if info.filename == victim else src.read(info.filename))
        report = verify(buf.getvalue())
        assert report.verdict == "invalid"
        assert report.seals[0].checks["signature"].status == "failed"


def test_signed_document_with_document_xml_removed_is_reported_tampered(ofd_samples):
    src = zipfile.ZipFile(io.BytesIO((ofd_samples / "gomain-invoice-v4.ofd").read_bytes()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            if info.filename != "Doc_0/Document.xml":
                z.writestr(info.filename, src.read(info.filename))
    report = verify(buf.getvalue())
    assert report.verdict == "invalid" and "document_error" in report.extra
    assert "missing" in report.seals[0].checks["integrity"].detail


def test_limits_are_configurable_through_stamp_and_verify(ofd_samples, pki):
    from stamping.ofd import stamp
    from stamping.placement import At

    data = (ofd_samples / "gomain-invoice-v4.ofd").read_bytes()
    for call in (
        lambda: verify(data, limits=PackageLimits(max_entries=5)),
        lambda: stamp(
            data, io.BytesIO(), pki.signer, pki.seal, [At(1, 50, 50)], limits=PackageLimits(max_entries=5)
        ),
    ):
        with pytest.raises(SealBridgeError) as err:
            call()
        assert err.value.code == "DOC_TOO_LARGE"


def _records_declared_as_one(count: int) -> bytes:
    """A zip whose end record declares one entry while its central directory holds `count` records:
    zipfile reads the directory by its size, so it would build them all."""
    data = b'<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'
    name = b"OFD.xml"
    crc = zlib.crc32(data)
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name), 0
    )
    record = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name), 0, 0, 0,
        0, 0, 0,
    )  # fmt: skip
    directory = (record + name) * count
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(local + name + data), 0)
    return local + name + data + directory + end


def test_an_entry_count_the_end_record_understates_is_still_refused():
    assert zip_records_bound(_records_declared_as_one(11)) == 11
    assert _code(_records_declared_as_one(11), PackageLimits(max_entries=10)) == "DOC_TOO_LARGE"
    # At the limit the directory is read (and its ten records of one name are refused for that).
    assert _code(_records_declared_as_one(10), PackageLimits(max_entries=10)) == "DOC_MALFORMED"
    too_many = _records_declared_as_one(DEFAULT_PACKAGE_LIMITS.max_entries + 1)
    for call in (lambda: sniff(too_many), lambda: verify(too_many)):
        with pytest.raises(SealBridgeError) as err:
            call()
        assert err.value.code == "DOC_TOO_LARGE"


@pytest.fixture(scope="module")
def three_seals(pki) -> bytes:
    from stamping.ofd import stamp
    from stamping.placement import At

    data = make_ofd([text_object("甲方（盖章）", 20, 200)], extra={"Doc_0/Res/a.bin": b"a" * 1000})
    for i in range(3):
        out = io.BytesIO()
        stamp(data, out, pki.signer, pki.seal, [At(1, 40 + 40 * i, 60)])
        data = out.getvalue()
    return data


def _unread(report) -> list[str | None]:
    """Per seal, the error code of a Signature.xml the verifier did not read (None: read)."""
    return [
        (s.checks["signature"].reasons[0].params or {}).get("error_code")
        if s.checks["signature"].code == "SIGNATURE_XML_UNREADABLE"
        else None
        for s in report.seals
    ]


def test_what_all_signatures_together_may_cost_is_bounded(three_seals, pki):
    pkg = OfdPackage(three_seals)
    sigs = [read_signature_xml(pkg, f"Doc_0/Signs/Sign_{k}/Signature.xml") for k in range(3)]
    options = VerifyOptions(trust_anchors=[pki.root_cert])
    assert _unread(verify(three_seals, options)) == [None, None, None]
    two_refs = len(sigs[0].references) + len(sigs[1].references)
    report = verify(three_seals, options, limits=PackageLimits(max_references_total=two_refs))
    assert _unread(report) == [None, None, "DOC_TOO_LARGE"]
    # The seals read are checked as ever (their changes_after cannot exempt the files of a seal not read).
    checks = [(s.checks["integrity"].status, s.checks["signature"].status) for s in report.seals[:2]]
    assert checks == [("ok", "ok"), ("ok", "ok")] and report.verdict == "invalid"
    first_xml = pkg.entries["Doc_0/Signs/Sign_0/Signature.xml"].size
    report = verify(three_seals, options, limits=PackageLimits(max_signature_xml_bytes_total=first_xml))
    assert _unread(report) == [None, "DOC_TOO_LARGE", "DOC_TOO_LARGE"]


def test_a_signature_with_more_references_than_a_package_may_hold(three_seals):
    name = "Doc_0/Signs/Sign_0/Signature.xml"
    xml = OfdPackage(three_seals).read(name)
    start, end = xml.index(b"<ofd:Reference "), xml.index(b"</ofd:References>")
    entries = len(OfdPackage(three_seals).entries)
    padded = xml[:end] + xml[start:end] * entries + xml[end:]  # duplicates: more References than entries
    data = replace_entry(three_seals, name, padded)
    assert _unread(verify(data, limits=PackageLimits(max_entries=entries))) == ["DOC_TOO_LARGE", None, None]


def test_a_package_naming_its_parts_with_backslashes_verifies_after_a_stamp(pki):
    """Some writers name entries "Doc_0\\Res\\img.png"; lookups take "\\" for "/", and so must the check
    that every entry is covered: otherwise our own stamp of such a package verifies invalid."""
    from stamping.ofd import stamp
    from stamping.placement import At

    data = make_ofd(
        [text_object("甲方（盖章）", 20, 200)], extra={"Doc_0\\Res\\img.png": b"\x89PNG" + bytes(999)}
    )
    assert "Doc_0\\Res\\img.png" in OfdPackage(data).entries
    out = io.BytesIO()
    stamp(data, out, pki.signer, pki.seal, [At(1, 60, 60)])
    report = verify(out.getvalue(), VerifyOptions(trust_anchors=[pki.root_cert]))
    assert report.seals[0].checks["changes_after"].code == "FILES_ALL_PROTECTED"
    assert report.verdict == "valid"
