"""Stamping keeps every zip name as the input stored it (bytes and UTF-8 flag) and gives each part it adds a
name that collides with none already there, under the verifier's comparison (case, "\\" for "/")."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, load_document, read_signature_list, read_signature_xml
from formats.ofd.writer import PackageWriter, entry_name_bytes
from stamping.ofd import stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At
from tests.support.ofd_maker import make_ofd, text_object
from tests.support.ofd_zip import raw_member, raw_names, rename_unflagged, replace_entry, set_flag_bits

_UTF8_FLAG = 0x800
_DATA_DESCRIPTOR = 0x8
RESOURCE = "Doc_0/Res/印章图片.png"


def _document(extra: dict[str, bytes] | None = None) -> bytes:
    return make_ofd([text_object("甲方（盖章）", 20, 200), text_object("第二页", 20, 30)], extra=extra)


def _with_unflagged_name(name: str, encoding: str, content: bytes) -> bytes:
    """A document holding `content` under `name` encoded in `encoding`, without the UTF-8 flag."""
    raw = name.encode(encoding)
    placeholder = "x" * len(raw)  # renamed in place: the same length keeps every offset
    return rename_unflagged(_document({placeholder: content}), placeholder, raw)


def _package_name(pkg: OfdPackage, raw: bytes) -> str:
    """The name our package reader gives the entry stored under the bytes `raw`."""
    [name] = [n for n, e in pkg.entries.items() if entry_name_bytes(pkg, e.info) == raw]
    return name


def _stamp(data: bytes, pki) -> bytes:
    out = io.BytesIO()
    stamp(data, out, pki.signer, pki.seal, [At(page=1, x=60, y=60)], StampOptions())
    return out.getvalue()


def _verdict(data: bytes, pki) -> str:
    report = verify(data, VerifyOptions(trust_anchors=[pki.root_cert]))
    assert [s.verdict for s in report.seals] == ["valid"], report.to_dict()
    return report.verdict


def _unzip_test(data: bytes, tmp_path: Path) -> None:
    if shutil.which("unzip") or os.environ.get("CI"):
        target = tmp_path / "stamped.ofd"
        target.write_bytes(data)
        res = subprocess.run(["unzip", "-tq", str(target)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_unflagged_names_keep_their_bytes_and_flags(encoding, pki, tmp_path):
    picture = os.urandom(3000)
    data = _with_unflagged_name(RESOURCE, encoding, picture)
    raw = RESOURCE.encode(encoding)
    before = raw_names(data)
    assert before[raw][0] & _UTF8_FLAG == 0 and before[raw][2] & _UTF8_FLAG == 0

    out = _stamp(data, pki)

    after = raw_names(out)
    for name, (flags, local_name, local_flags) in before.items():
        # Every input entry is there under the very same bytes and UTF-8 flag, in both headers.
        assert name in after, name
        out_flags, out_local_name, out_local_flags = after[name]
        assert out_local_name == local_name, name
        assert (
            out_flags & _UTF8_FLAG == flags & _UTF8_FLAG
            and out_local_flags & _UTF8_FLAG == local_flags & _UTF8_FLAG
        )
    assert after[raw] == before[raw]  # copied unchanged: flags identical too
    assert zipfile.ZipFile(io.BytesIO(out), metadata_encoding=encoding).read(RESOURCE) == picture
    as_zipfile_reads = raw.decode("cp437")
    assert raw_member(out, as_zipfile_reads) == raw_member(data, as_zipfile_reads)

    # The new seal's Reference names that entry the way our package reader looks it up.
    pkg = OfdPackage(out)
    doc = load_document(pkg)
    [entry] = read_signature_list(pkg, doc.signatures_path)[0]
    refs = {r.path for r in read_signature_xml(pkg, entry.path).references}
    assert "/" + _package_name(pkg, raw) in refs
    assert _verdict(out, pki) == "valid"
    assert zipfile.ZipFile(io.BytesIO(out)).testzip() is None
    _unzip_test(out, tmp_path)


def test_a_replaced_entry_keeps_its_name_bytes():
    name = "Doc_0/附件/说明.xml"
    data = _with_unflagged_name(name, "gbk", b"<old/>")
    pkg = OfdPackage(data)
    stored = _package_name(pkg, name.encode("gbk"))
    buf = io.BytesIO()
    writer = PackageWriter(buf)
    for entry in pkg.entries:
        if entry == stored:
            writer.replace(pkg, entry, b"<new/>")
        else:
            writer.copy_raw(pkg, entry)
    writer.close()
    out = buf.getvalue()
    assert raw_names(out)[name.encode("gbk")][0] & _UTF8_FLAG == 0
    assert raw_names(out)[name.encode("gbk")][1] == name.encode("gbk")
    assert zipfile.ZipFile(io.BytesIO(out), metadata_encoding="gbk").read(name) == b"<new/>"
    assert set(raw_names(out)) == set(raw_names(data))


_STALE = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
    b"<ofd:MaxSignId>0</ofd:MaxSignId></ofd:Signatures>"
)


@pytest.mark.parametrize(
    ("leftovers", "signatures", "sign_folder"),
    [
        (["Doc_0/Signs/Signatures.xml"], "Signatures_2.xml", "Sign_0"),
        (["doc_0/signs/signatures.xml"], "Signatures_2.xml", "Sign_0"),
        (["Doc_0\\Signs\\SIGNATURES.XML"], "Signatures_2.xml", "Sign_0"),
        (["Doc_0/Signs/Signatures.xml", "doc_0/signs/signatures_2.xml"], "Signatures_3.xml", "Sign_0"),
        (["Doc_0/Signs/Signatures.xml", "doc_0/signs/sign_0/seal.esl", "Doc_0\\Signs\\Sign_1"], "Signatures_2.xml",
         "Sign_2"),
    ],
)  # fmt: skip
def test_unlinked_leftovers_do_not_collide_with_the_new_seal(
    leftovers, signatures, sign_folder, pki, tmp_path
):
    data = _document(dict.fromkeys(leftovers, _STALE))
    out = _stamp(data, pki)

    pkg = OfdPackage(out)  # opens: no two names our reader folds together
    doc = load_document(pkg)
    assert doc.signatures_path == f"/Doc_0/Signs/{signatures}"
    [entry] = read_signature_list(pkg, doc.signatures_path)[0]
    assert entry.path == f"/Doc_0/Signs/{sign_folder}/Signature.xml"
    refs = {r.path for r in read_signature_xml(pkg, entry.path).references}
    for name in leftovers:  # left as they were, and covered by the new seal like any other file
        assert pkg.read(name) == _STALE
        assert "/" + name.replace("\\", "/") in refs  # FileRef locations are read with "/" for "\\"
    assert _verdict(out, pki) == "valid"
    assert zipfile.ZipFile(io.BytesIO(out)).testzip() is None
    _unzip_test(out, tmp_path)


def test_a_linked_signatures_path_taken_by_a_folder_is_relinked(pki):
    """OFD.xml links a Signatures.xml that is missing, and a folder entry has that name: ours goes elsewhere
    and the one link is repointed (a second <Signatures> would be ignored by readers)."""
    base = _document({"Doc_0/Signs/Signatures.xml/": b""})
    ofd_xml = zipfile.ZipFile(io.BytesIO(base)).read("OFD.xml")
    link = b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>"
    data = replace_entry(base, "OFD.xml", ofd_xml.replace(b"</ofd:DocRoot>", link))
    assert load_document(OfdPackage(data)).signatures_path == "/Doc_0/Signs/Signatures.xml"
    out = _stamp(data, pki)
    pkg = OfdPackage(out)
    assert load_document(pkg).signatures_path == "/Doc_0/Signs/Signatures_2.xml"
    assert pkg.read("OFD.xml").count(b"Signatures>") == 2  # one element: its start and end tags
    assert _verdict(out, pki) == "valid"


def test_the_writer_refuses_names_that_fold_together_as_a_document_problem():
    writer = PackageWriter(io.BytesIO())
    writer.add("Doc_0/Signs/Signatures.xml", b"<a/>")
    for other in ("Doc_0/Signs/Signatures.xml", "doc_0/signs/SIGNATURES.xml", "Doc_0\\Signs\\Signatures.xml"):
        with pytest.raises(SealBridgeError) as err:
            writer.add(other, b"<b/>")
        assert err.value.code == "DOC_MALFORMED" and err.value.message_zh and err.value.message_en
        assert "Signatures.xml" in (err.value.detail or "")


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_an_unflagged_name_is_read_as_its_producer_wrote_it(encoding, pki):
    """zipfile reads an unflagged name as cp437; the document's XML names the file in UTF-8 or GBK terms
    ("印章图片.png"), so that is the name the package gives it, and the one a new seal's Reference uses."""
    picture = os.urandom(3000)
    data = _with_unflagged_name(RESOURCE, encoding, picture)
    pkg = OfdPackage(data)
    assert _package_name(pkg, RESOURCE.encode(encoding)) == RESOURCE
    assert pkg.read("/" + RESOURCE) == picture
    out = _stamp(data, pki)
    stamped = OfdPackage(out)
    [entry] = read_signature_list(stamped, load_document(stamped).signatures_path)[0]
    assert "/" + RESOURCE in {r.path for r in read_signature_xml(stamped, entry.path).references}
    assert _verdict(out, pki) == "valid"


def test_a_gb18030_reading_cannot_hide_a_separator_another_reader_sees():
    """In GB18030 a "\\" byte can be the second half of a character: b"\\x81\\\\a.png" reads "乗a.png" there
    and "ü\\a.png" (a folder ü and a file a.png, to a reader that takes "\\" for "/") in cp437. Next to an
    entry ü/a.png that is two parts under one name: refused, as the same collision always was."""
    raw = b"Doc_0/Res/\x81\\a.png"
    placeholder = "Doc_0/Res/xxxxx.png"[: len(raw)]
    data = rename_unflagged(_document({"Doc_0/Res/ü/a.png": b"one", placeholder: b"two"}), placeholder, raw)
    with pytest.raises(SealBridgeError) as err:
        OfdPackage(data)
    assert err.value.code == "DOC_MALFORMED" and "encoding" in (err.value.detail or "")


@pytest.mark.parametrize("bits", [0x20, 0x40, 0x2000])
def test_entries_other_readers_refuse_are_refused(bits):
    """Patched data, strong encryption, an encrypted directory: zipfile refuses to read such an entry, so
    neither do we (a stamp would have copied the bits into an output no reader opens)."""
    data = set_flag_bits(_document(), "Doc_0/Document.xml", bits)
    with pytest.raises(SealBridgeError) as err:
        OfdPackage(data)
    assert err.value.code == "DOC_MALFORMED"
