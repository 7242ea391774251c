"""Stamping streams: unchanged entries are copied as their compressed bytes and hashed from those same bytes
in one read; the output is a zip other readers accept (issue 18)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from collections import Counter

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage
from stamping.fileout import atomic_output
from stamping.ofd import stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At
from tests.support.ofd_maker import make_ofd, text_object
from tests.support.ofd_zip import raw_member


def _streamed_zip(data: bytes) -> bytes:
    """`data` rewritten by zipfile onto a non-seekable stream: every entry gets a data descriptor (flag bit
    3, zero sizes in the local header), as streaming producers write them."""

    class _Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # noqa: ANN001
            self.buf += b
            return len(b)

    src = zipfile.ZipFile(io.BytesIO(data))
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info), compress_type=info.compress_type)
    return bytes(pipe.buf)


@pytest.fixture
def mixed_ofd() -> bytes:
    base = make_ofd([text_object("甲方（盖章）", 20, 200), text_object("第二页", 20, 30)])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in zipfile.ZipFile(io.BytesIO(base)).infolist():
            z.writestr(info.filename, zipfile.ZipFile(io.BytesIO(base)).read(info), zipfile.ZIP_DEFLATED)
        z.writestr("Doc_0/Res/scan.jpg", os.urandom(300_000), zipfile.ZIP_STORED)
        z.writestr("Doc_0/Res/scan2.jpg", os.urandom(200_000), zipfile.ZIP_DEFLATED)
        z.writestr("Doc_0/Res/font.ttf", bytes(range(256)) * 2000, zipfile.ZIP_DEFLATED)
    return _streamed_zip(buf.getvalue())


def test_unchanged_entries_copied_as_their_compressed_bytes_and_hashed_once(
    mixed_ofd, pki, monkeypatch, tmp_path
):
    assert all(i.flag_bits & 0x8 for i in zipfile.ZipFile(io.BytesIO(mixed_ofd)).infolist())
    inflated: Counter[str] = Counter()
    original = OfdPackage.inflate

    def counting(self, name, path, raw, **kw):
        inflated[name] += 1
        return original(self, name, path, raw, **kw)

    monkeypatch.setattr(OfdPackage, "inflate", counting)
    target = tmp_path / "stamped.ofd"
    with atomic_output(target) as out:  # the CLI's temp file: the stamper streams into it
        stamp(mixed_ofd, out, pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    monkeypatch.undo()
    stamped = target.read_bytes()
    # Every entry is read once: resources copied and hashed from the same pieces, XML parts hashed from
    # the bytes parsed to place the seal (OFD.xml, parsed twice, is small and replaced anyway).
    assert inflated["Doc_0/Res/scan.jpg"] == 1 and inflated["Doc_0/Res/scan2.jpg"] == 1
    assert inflated["Doc_0/Res/font.ttf"] == 1
    assert inflated["Doc_0/Document.xml"] == 1 and inflated["Doc_0/Pages/Page_1/Content.xml"] == 1
    assert max(n for name, n in inflated.items() if name != "OFD.xml") == 1, inflated

    before = zipfile.ZipFile(io.BytesIO(mixed_ofd))
    after = zipfile.ZipFile(io.BytesIO(stamped))
    changed = {"OFD.xml"}  # linked to the new Signatures.xml
    for info in before.infolist():
        if info.filename not in changed:
            assert raw_member(mixed_ofd, info.filename) == raw_member(stamped, info.filename), info.filename
    assert after.testzip() is None
    new = {i.filename for i in after.infolist()} - {i.filename for i in before.infolist()}
    assert new == {f"Doc_0/Signs/{n}" for n in ("Signatures.xml", "Sign_0/Seal.esl", "Sign_0/Signature.xml",
                                               "Sign_0/SignedValue.dat")}  # fmt: skip
    assert verify(stamped, VerifyOptions(trust_anchors=[pki.root_cert])).verdict == "valid"
    if shutil.which("unzip") or os.environ.get("CI"):
        res = subprocess.run(["unzip", "-tq", str(target)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout + res.stderr


def test_second_stamp_copies_the_first_seal_and_streamed_entries_unchanged(mixed_ofd, pki):
    first = io.BytesIO()
    stamp(mixed_ofd, first, pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    second = io.BytesIO()
    stamp(first.getvalue(), second, pki.signer, pki.seal, [At(page=2, x=60, y=60)], StampOptions())
    a, b = first.getvalue(), second.getvalue()
    for info in zipfile.ZipFile(io.BytesIO(a)).infolist():
        if info.filename != "Doc_0/Signs/Signatures.xml":
            assert raw_member(a, info.filename) == raw_member(b, info.filename), info.filename
    report = verify(b, VerifyOptions(trust_anchors=[pki.root_cert]))
    assert [s.verdict for s in report.seals] == ["valid", "valid"]


def _rename_in_local_header(data: bytes, name: str, other: str) -> bytes:
    assert len(name) == len(other)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30
    assert data[start : start + len(name)] == name.encode()
    return data[:start] + other.encode() + data[start + len(name) :]


def test_a_local_header_naming_another_file_is_refused(pki):
    data = make_ofd([text_object("页", 20, 200)], extra={"Doc_0/Res/a.png": b"\x89PNG" + bytes(100)})
    bad = _rename_in_local_header(data, "Doc_0/Res/a.png", "Doc_0/Res/b.png")
    with pytest.raises(SealBridgeError) as err:
        OfdPackage(bad).read("Doc_0/Res/a.png")
    assert err.value.code == "DOC_MALFORMED"
    with pytest.raises(SealBridgeError) as err:
        stamp(bad, io.BytesIO(), pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    assert err.value.code == "DOC_MALFORMED"


def test_a_stream_failing_its_crc_is_refused_while_copying(pki):
    buf = io.BytesIO(make_ofd([text_object("页", 20, 200)]))
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("Doc_0/Res/a.bin", os.urandom(5000), zipfile.ZIP_STORED)
    data = bytearray(buf.getvalue())
    _, end = OfdPackage(bytes(data)).raw_span("Doc_0/Res/a.bin")
    data[end - 10] ^= 0xFF  # stored: the bytes change, the declared CRC does not
    with pytest.raises(SealBridgeError) as err:
        stamp(bytes(data), io.BytesIO(), pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    assert err.value.code == "DOC_MALFORMED" and "CRC" in err.value.detail
