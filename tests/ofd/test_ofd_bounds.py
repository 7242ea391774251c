"""Hostile packages: every one is refused with DOC_MALFORMED or DOC_TOO_LARGE, never a traceback."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, PackageLimits, load_document
from formats.ofd.xmlsafe import parse_xml
from stamping.ofd import verify

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
