"""Inputs the long fuzz pass (`python -m tests.fuzz.run --n 20000 --seed 7`) found raising instead of being
reported; each is rebuilt here from a clean document with the same damage."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from devkit.sealed import seal_holder, sealed
from formats.errors import SealBridgeError
from stamping.documents import document_format
from stamping.options import VerifyOptions


@pytest.fixture(scope="module")
def holder():
    return seal_holder()


def test_the_latest_catalogue_damaged_so_pyhanko_reads_no_dictionary(holder):
    """ "1 0 obj8<<": pikepdf recovers the catalogue and finds the signature, pyHanko reads object 1 as the
    number 8 and asserted that /Root is a dictionary."""
    data = sealed("pdf", 1, holder)
    at = data.index(b"1 0 obj\n<<\n/Pages")  # the incremental update's catalogue
    damaged = data[: at + 7] + b"8" + data[at + 8 :]  # same length: every offset holds
    with pytest.raises(SealBridgeError) as exc:
        document_format(damaged).verify(damaged, VerifyOptions(trust_anchors=[holder.root]))
    assert exc.value.code == "DOC_MALFORMED" and "pyHanko cannot read the PDF" in str(exc.value)
    # pyHanko's assertion carries no message: the reason says what is wrong instead of ending in ": ".
    assert "its structure is not what the PDF format requires" in str(exc.value)


def _central_directory_version(data: bytes, version: int) -> bytes:
    """Every central directory entry claims to need ZIP `version` to extract."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<H", out, at + 6, version)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_a_package_that_needs_a_zip_version_python_does_not_read(holder):
    """zipfile raises NotImplementedError ("zip file version 14.8") for such an archive."""
    data = _central_directory_version(sealed("ofd", 1, holder), 148)
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(io.BytesIO(data))
    with pytest.raises(SealBridgeError) as exc:
        document_format(data).verify(data, VerifyOptions(trust_anchors=[holder.root]))
    assert exc.value.code == "DOC_MALFORMED" and "14.8" in str(exc.value)


def test_the_ofd_package_reader_says_the_same():
    from formats.ofd import OfdPackage

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
    with pytest.raises(SealBridgeError) as exc:
        OfdPackage(_central_directory_version(buf.getvalue(), 148))
    assert exc.value.code == "DOC_MALFORMED"
