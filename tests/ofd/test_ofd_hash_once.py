"""Verification hashes each package entry once, however many seals reference it, and still catches a byte
changed in any referenced entry for exactly the seals that reference it (issue 18)."""

from __future__ import annotations

import importlib
import io
import os
import zipfile
from collections import Counter

import pytest

from formats.ofd import OfdPackage, load_document, read_signature_list, read_signature_xml
from stamping.ofd import entrypass, stamp, verify
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At
from tests.support.ofd_maker import make_ofd, text_object
from tests.support.ofd_zip import flip_byte, replace_entry, store_entry

SEALS = 3
# The module, not the function stamping.ofd exports under the same name.
verify_module = importlib.import_module("stamping.ofd.verify")


@pytest.fixture(params=["inline", "threads"])
def threads(request, monkeypatch) -> str:
    """Both paths of the verifier: small documents hashed on the calling thread, large ones on workers
    (forced here by lowering the size from which threads start to nothing)."""
    if request.param == "threads":
        monkeypatch.setattr(entrypass, "THREADS_FROM", 0)
        monkeypatch.setattr(verify_module, "THREADS_FROM", 0)
    return request.param


@pytest.fixture(scope="module")
def three_seals(pki) -> bytes:
    data = make_ofd(
        [text_object("甲方（盖章）", 20, 200), text_object("第二页", 20, 30)],
        extra={
            "Doc_0/Res/scan.jpg": os.urandom(40_000),
            "Doc_0/Res/logo.png": b"\x89PNG" + bytes(5000),
            "Doc_0/Res/photo.jpg": os.urandom(30_000),
        },
    )
    # A stored entry too: its bytes are hashed straight from the package, without inflating.
    data = store_entry(data, "Doc_0/Res/photo.jpg")
    for i in range(SEALS):
        out = io.BytesIO()
        stamp(data, out, pki.signer, pki.seal, [At(page=1 + i % 2, x=60 + 30 * i, y=60)], StampOptions())
        data = out.getvalue()
    return data


def _verify(data: bytes, pki) -> dict[str, str]:
    report = verify(data, VerifyOptions(trust_anchors=[pki.root_cert]))
    return {seal.id: seal.verdict for seal in report.seals}


def _who_depends(data: bytes) -> dict[str, set[str]]:
    """zip name → the seals (Sign_k) a change to it must fail: those referencing it, and its owner."""
    pkg = OfdPackage(data)
    doc = load_document(pkg)
    entries, _ = read_signature_list(pkg, doc.signatures_path or "")
    depends: dict[str, set[str]] = {name: set() for name in pkg.files()}
    for entry in entries:
        sig = read_signature_xml(pkg, entry.path)
        seal_id = entry.path.strip("/").split("/")[-2]
        for ref in sig.references:
            depends[pkg.find(ref.path) or ""].add(seal_id)
        for own in (sig.path, sig.signed_value_path, sig.seal_path or ""):
            if pkg.find(own):
                depends[pkg.find(own) or ""].add(seal_id)
    return depends


def test_all_seals_valid_and_entries_shared(three_seals, pki):
    assert _verify(three_seals, pki) == {f"Sign_{k}": "valid" for k in range(SEALS)}
    depends = _who_depends(three_seals)
    every = {f"Sign_{k}" for k in range(SEALS)}
    # The fixture is what the other tests need: entries every seal references, and entries only some do.
    assert depends["Doc_0/Document.xml"] == every and depends["Doc_0/Res/scan.jpg"] == every
    assert depends["Doc_0/Res/photo.jpg"] == every
    assert OfdPackage(three_seals).entries["Doc_0/Res/photo.jpg"].info.compress_type == zipfile.ZIP_STORED
    assert depends["Doc_0/Signs/Sign_2/SignedValue.dat"] == {"Sign_2"}
    assert depends["Doc_0/Signs/Sign_0/Signature.xml"] == every


def test_a_byte_flipped_in_any_entry_fails_exactly_the_seals_that_depend_on_it(three_seals, pki, threads):
    depends = _who_depends(three_seals)
    src = OfdPackage(three_seals)
    checked = 0
    for name, seals in depends.items():
        if name.lower().endswith("signatures.xml"):
            continue  # not locked: no seal references it; later seals add themselves to it
        tampered = replace_entry(three_seals, name, flip_byte(src.read(name)))
        verdicts = _verify(tampered, pki)
        failed = {seal for seal, verdict in verdicts.items() if verdict != "valid"}
        assert failed == seals, (name, verdicts)
        checked += 1
    assert checked >= 6 + 3 * SEALS  # OFD.xml, Document.xml, 2 pages, 3 resources; 3 files per seal


class _CountingHasher:
    """An SM3 hasher that records every digest made and every byte fed, for the whole test."""

    made: list[int] = []

    def __init__(self) -> None:
        from formats.gm import SM3Hasher

        self._h = SM3Hasher()
        self._fed = 0

    def update(self, data: bytes) -> None:
        self._fed += len(data)
        self._h.update(data)

    def digest(self) -> bytes:
        _CountingHasher.made.append(self._fed)
        return self._h.digest()


def test_each_entry_inflated_and_hashed_once_for_all_seals(three_seals, pki, monkeypatch, threads):
    pkg = OfdPackage(three_seals)
    referenced = {
        pkg.find(ref.path) or ""
        for entry in read_signature_list(pkg, "Doc_0/Signs/Signatures.xml")[0]
        for ref in read_signature_xml(pkg, entry.path).references
    }
    inflated: Counter[str] = Counter()
    original_inflate = OfdPackage.inflate

    def counting_inflate(self, name, path, raw, **kw):
        inflated[name] += 1
        return original_inflate(self, name, path, raw, **kw)

    monkeypatch.setattr(OfdPackage, "inflate", counting_inflate)  # every inflation goes through it
    monkeypatch.setattr(entrypass, "hasher_for", lambda method: _CountingHasher)
    _CountingHasher.made = []
    assert _verify(three_seals, pki) == {f"Sign_{k}": "valid" for k in range(SEALS)}

    # One digest per referenced entry, over exactly its bytes: however many seals reference it.
    assert len(_CountingHasher.made) == len(referenced)
    assert sorted(_CountingHasher.made) == sorted(pkg.entries[name].size for name in referenced)
    # Each entry inflated once (to parse it, to keep it for a check, or to hash it) — OFD.xml, which must
    # be read to find the signatures before anything is known about them, at most twice.
    over = {name: n for name, n in inflated.items() if n > (2 if name == "OFD.xml" else 1)}
    assert not over, over
    assert inflated["Doc_0/Res/scan.jpg"] == 1 and inflated["Doc_0/Document.xml"] == 1
    assert inflated["Doc_0/Res/photo.jpg"] == 1
    assert inflated["Doc_0/Signs/Sign_0/SignedValue.dat"] == 1


def test_a_byte_changed_under_a_stale_crc_still_fails_every_seal(three_seals, pki, threads):
    """The entry pass skips CRC-32 where it compares SM3 anyway: a byte changed in the zip itself (CRC and
    sizes left as they were) is still caught, by the digest, for every seal referencing the entry."""
    pkg = OfdPackage(three_seals)
    for name in ("Doc_0/Res/scan.jpg", "Doc_0/Res/photo.jpg", "Doc_0/Pages/Page_1/Content.xml"):
        start, end = pkg.raw_span(name)
        tampered = bytearray(three_seals)
        tampered[(start + end) // 2] ^= 0x01
        verdicts = _verify(bytes(tampered), pki)
        assert set(verdicts.values()) == {"invalid"}, (name, verdicts)


def test_the_reports_file_digests_are_the_files(three_seals, pki, threads):
    """The whole file's SM3 and SHA-256 come from the shared hashing jobs (threads) or finish() (inline)."""
    import hashlib

    from formats.gm import sm3

    report = verify(three_seals, VerifyOptions(trust_anchors=[pki.root_cert]))
    assert report.document["sm3"] == sm3(three_seals).hex()
    assert report.document["sha256"] == hashlib.sha256(three_seals).hexdigest()


def test_one_algorithm_spelled_several_ways_is_hashed_once(three_seals, monkeypatch, threads):
    """A CheckMethod names an algorithm: the OID, "sm3" and "SM3 " are one SM3, so an entry every seal
    references is still hashed once (keyed by the spelling, 512 seals made one large entry 512 hashes)."""
    data = three_seals
    for sign, spelling in (("Sign_0", "1.2.156.10197.1.401.2"), ("Sign_1", " SM3 ")):
        name = f"Doc_0/Signs/{sign}/Signature.xml"
        xml = OfdPackage(data).read(name)
        assert b'CheckMethod="1.2.156.10197.1.401"' in xml
        edited = xml.replace(b'CheckMethod="1.2.156.10197.1.401"', f'CheckMethod="{spelling}"'.encode())
        data = replace_entry(data, name, edited)
    pkg = OfdPackage(data)
    referenced = {
        pkg.find(ref.path) or ""
        for entry in read_signature_list(pkg, "Doc_0/Signs/Signatures.xml")[0]
        for ref in read_signature_xml(pkg, entry.path).references
    }
    monkeypatch.setattr(entrypass, "hasher_for", lambda method: _CountingHasher)
    _CountingHasher.made = []
    report = verify(data)
    # Every spelling is understood (SM3): Sign_0's References still match; the later seals' fail only for
    # the earlier Signature.xml edited here.
    assert [s.checks["integrity"].status for s in report.seals] == ["ok", "failed", "failed"]
    assert sorted(_CountingHasher.made) == sorted(pkg.entries[name].size for name in referenced)
