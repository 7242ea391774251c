"""Security review findings in OFD verification (each test failed before its fix): one Signature.xml listed
twice counts once, a forged later signature cannot make an added file look like its own, and locations
that climb above the package root are malformed."""

from __future__ import annotations

import io
import zipfile

import pytest

from formats.errors import SealBridgeError
from formats.ofd.locs import resolve
from stamping.ofd import stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At

SIGS = "Doc_0/Signs/Signatures.xml"


def _signed(simple_ofd: bytes, pki) -> bytes:
    out = io.BytesIO()
    stamp(simple_ofd, out, pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    return out.getvalue()


def _rewrite(data: bytes, changes: dict[str, bytes]) -> bytes:
    """The package with some entries replaced or added (the rest copied)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename not in changes:
                z.writestr(info, src.read(info))
        for name, body in changes.items():
            z.writestr(name, body)
    return buf.getvalue()


def test_a_signature_listed_twice_is_not_two_seals(simple_ofd, pki):
    data = _signed(simple_ofd, pki)
    sigs = zipfile.ZipFile(io.BytesIO(data)).read(SIGS).decode()
    start = sigs.index("<ofd:Signature ")
    end = sigs.index("/>", start) + 2
    entry = sigs[start:end]
    twice = sigs[:end] + entry.replace('ID="', 'ID="9', 1) + sigs[end:]
    report = verify(_rewrite(data, {SIGS: twice.encode()}), VerifyOptions(trust_anchors=[pki.root_cert]))
    assert len(report.seals) == 2
    assert report.seals[0].verdict == "valid"
    assert report.seals[1].verdict == "invalid"
    assert "listed" in report.seals[1].checks["integrity"].detail


def test_a_forged_later_signature_does_not_cover_for_an_added_file(simple_ofd, pki):
    """Sign_0 does not cover an added file; a fake later signature naming that file as its SignedValue must
    not make Sign_0's changes_after look clean."""
    data = _signed(simple_ofd, pki)
    z = zipfile.ZipFile(io.BytesIO(data))
    sigs = z.read(SIGS).decode()
    sig0 = z.read("Doc_0/Signs/Sign_0/Signature.xml").decode()
    fake = sig0.replace("<ofd:SignedValue>", "<ofd:SignedValue>/Doc_0/Res/added.xml<!--", 1).replace(
        "</ofd:SignedValue>", "--></ofd:SignedValue>", 1
    )
    assert "/Doc_0/Res/added.xml" in fake
    listed = sigs.replace(
        "</ofd:Signatures>", '<ofd:Signature ID="77" BaseLoc="Sign_1/Signature.xml"/></ofd:Signatures>'
    )
    tampered = _rewrite(
        data,
        {
            "Doc_0/Res/added.xml": b"<x/>",
            "Doc_0/Signs/Sign_1/Signature.xml": fake.encode(),
            SIGS: listed.encode(),
        },
    )
    report = verify(tampered, VerifyOptions(trust_anchors=[pki.root_cert]))
    first = report.seals[0]
    assert first.checks["changes_after"].status != "ok", first.checks["changes_after"]
    assert report.verdict == "invalid"


@pytest.mark.parametrize("loc", ["../../../../etc/passwd", "/../Doc_0/Document.xml", "a/../../../../../x"])
def test_locations_above_the_package_root_are_malformed(loc):
    with pytest.raises(SealBridgeError) as exc:
        resolve(loc, "/Doc_0/Signs/Sign_0/Signature.xml")
    assert exc.value.code == "DOC_MALFORMED"


def test_locations_inside_the_package_still_resolve():
    assert resolve("../../Document.xml", "/Doc_0/Signs/Sign_0/Signature.xml") == "/Doc_0/Document.xml"
    assert resolve("/Doc_0/./Pages/../Document.xml", "/OFD.xml") == "/Doc_0/Document.xml"


def test_page_images_share_one_decoding_budget():
    """Many small PNGs that each declare a large picture: a page preview decodes them only up to a total
    pixel budget, not each up to the per-image bound (which would let one page take gigabytes)."""
    from PIL import Image

    from formats.ofd import OfdPackage
    from formats.ofd.pagerender import MAX_IMAGE_PIXELS, MAX_TOTAL_IMAGE_PIXELS, _Images

    side = 4000
    assert side * side <= MAX_IMAGE_PIXELS
    buf = io.BytesIO()
    Image.new("L", (side, side), 0).save(buf, "PNG")
    png = buf.getvalue()
    assert len(png) < 100_000  # a few kB on disk, 16 MP in memory
    n = MAX_TOTAL_IMAGE_PIXELS // (side * side) + 2
    entries = {f"Doc_0/Res/i{i}.png": png for i in range(n)}
    entries["OFD.xml"] = b"<OFD/>"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in entries.items():
            z.writestr(name, body)
    pkg = OfdPackage(zbuf.getvalue())
    images = _Images(pkg, {str(i): f"/Doc_0/Res/i{i}.png" for i in range(n)})
    loaded = [images(str(i)) for i in range(n)]
    decoded = sum(img.width * img.height for img in loaded if img is not None)
    assert 0 < decoded <= MAX_TOTAL_IMAGE_PIXELS
    assert loaded[-1] is None


def test_names_differing_only_in_the_separator_are_refused():
    """ "Doc_0\\Document.xml" is the same part as "Doc_0/Document.xml" to Windows readers: a package with both
    could show one and have the other verified."""
    from formats.ofd import OfdPackage

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", b"<OFD/>")
        z.writestr("Doc_0/Document.xml", b"<a/>")
        z.writestr("Doc_0\\Document.xml", b"<b/>")
    with pytest.raises(SealBridgeError) as exc:
        OfdPackage(buf.getvalue())
    assert exc.value.code == "DOC_MALFORMED"
