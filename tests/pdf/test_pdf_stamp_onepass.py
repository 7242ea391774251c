"""Stamping in one pass: from bytes, a path or a stream the result is the same valid document; the input is
read once and the output written front to back; the SM3 of both come from that pass; a failed stamp
leaves no file behind and the input as it was."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from formats.errors import SealBridgeError
from sealbridge.cli import main
from stamping.copyhash import HashingCopy
from stamping.fileout import atomic_output
from stamping.options import StampOptions
from stamping.pdf import stamp, verify
from stamping.placement import At, Keyword, Seam
from tests.support.pdf_flows import trusting
from tests.support.pdf_maker import PageSpec, make_pdf

PLACEMENTS = [At(1, 60, 60), Keyword("盖章处"), Seam("right")]  # three seals, the last with a widget per page


def _sm3(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def _document(filler: int = 0) -> bytes:
    pages = [PageSpec(lines=[(72, 780, f"Page {i + 1}")]) for i in range(3)]
    pages[-1].lines.append((300, 200, "盖章处："))
    return make_pdf(pages, filler_bytes=filler)


class CountingReader(io.RawIOBase):
    """A readable, seekable stream over bytes that counts every byte handed out."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = self._inner.readinto(b)
        self.bytes_read += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


class AppendOnlySink:
    """An output that can only be written to (like a pipe): no tell, seek or read."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        self.chunks.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def _stamp(source, party, placements=PLACEMENTS):  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    result = stamp(source, out, party.signer, party.seal, placements, StampOptions())
    return out.getvalue(), result


def _verdicts(pdf: bytes, party) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s.id, s.verdict) for s in verify(pdf, trusting(party)).seals]


def _checks(pdf: bytes, party) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return [{n: c.status for n, c in s.checks.items()} for s in verify(pdf, trusting(party)).seals]


@pytest.mark.parametrize("kind", ["path", "str", "file", "stream", "bytearray", "memoryview"])
def test_every_source_gives_the_document_stamping_bytes_gives(kind, party, tmp_path: Path) -> None:
    data = _document()
    path = tmp_path / "in.pdf"
    path.write_bytes(data)
    reference, ref_result = _stamp(data, party)
    expected = [
        ("SealBridge_Seal_1", "valid"),
        ("SealBridge_Seal_2", "valid"),
        ("SealBridge_Seal_3", "valid"),
    ]
    assert _verdicts(reference, party) == expected
    if kind == "file":
        with open(path, "rb") as f:
            pdf, result = _stamp(f, party)
    else:
        source = {
            "path": path,
            "str": str(path),
            "stream": CountingReader(data),
            "bytearray": bytearray(data),
            "memoryview": memoryview(data),
        }[kind]
        pdf, result = _stamp(source, party)
    assert _verdicts(pdf, party) == expected
    assert _checks(pdf, party) == _checks(reference, party)
    assert (result.signature_ids, result.pages, result.boxes) == (
        ref_result.signature_ids,
        ref_result.pages,
        ref_result.boxes,
    )
    assert pdf[: len(data)] == data  # incremental updates after the untouched original
    # Same objects, same sizes: only IDs, dates and signature values differ between two stamps.
    assert len(pdf) == len(reference)
    assert path.read_bytes() == data


def test_result_carries_the_sm3_of_input_and_output(party) -> None:
    data = _document(filler=300_000)
    out = AppendOnlySink()
    result = stamp(data, out, party.signer, party.seal, PLACEMENTS, StampOptions())  # type: ignore[arg-type]
    pdf = out.value()
    assert result.doc_sm3_before == _sm3(data)
    assert result.doc_sm3_after == _sm3(pdf)
    assert [v for _, v in _verdicts(pdf, party)] == ["valid"] * 3


def test_the_input_is_read_once_and_the_output_written_once(sm2_party) -> None:
    data = _document(filler=4_000_000)
    source = CountingReader(data)
    out = AppendOnlySink()
    stamp(source, out, sm2_party.signer, sm2_party.seal, [At(1, 60, 60), Seam("right")], StampOptions())  # type: ignore[arg-type]
    pdf = out.value()
    assert [v for _, v in _verdicts(pdf, sm2_party)] == ["valid", "valid"]
    # The bulk is copied once; parsing the structure (twice: one reader per seal) reads a few KiB more.
    assert len(data) <= source.bytes_read < len(data) + 64 * 1024, source.bytes_read
    assert sum(len(c) for c in out.chunks) == len(pdf)  # front to back, nothing rewritten


def test_a_stream_that_cannot_seek_is_refused(sm2_party) -> None:
    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

    with pytest.raises(SealBridgeError) as err:
        stamp(Pipe(), io.BytesIO(), sm2_party.signer, sm2_party.seal, [At(1, 60, 60)], StampOptions())  # type: ignore[arg-type]
    assert err.value.code == "BAD_REQUEST"


class TokenPulledAfter:
    """A signer that works `n` times and then fails the way a removed token does."""

    def __init__(self, signer, n: int) -> None:  # type: ignore[no-untyped-def]
        self._signer = signer
        self._left = n
        self.algorithm = signer.algorithm
        self.certificate = signer.certificate
        self.chain = signer.chain

    def sign(self, data: bytes, digest_algorithm: str) -> bytes:
        if self._left == 0:
            raise SealBridgeError("TOKEN_ABSENT", "the token was removed")
        self._left -= 1
        return self._signer.sign(data, digest_algorithm)


@pytest.mark.parametrize(
    ("placements", "fail_after", "code"),
    [
        ([At(1, 60, 60), Keyword("没有这个词")], None, "PLACEMENT_INVALID"),  # refused before writing
        ([At(1, 60, 60), Seam("right")], 1, "TOKEN_ABSENT"),  # the first seal is already in the output
    ],
)
def test_a_failed_stamp_leaves_no_file_and_the_input_untouched(
    sm2_party, tmp_path: Path, placements, fail_after, code
) -> None:
    data = _document(filler=200_000)
    src = tmp_path / "in.pdf"
    src.write_bytes(data)
    dst = tmp_path / "out.pdf"
    signer = sm2_party.signer if fail_after is None else TokenPulledAfter(sm2_party.signer, fail_after)
    with pytest.raises(SealBridgeError) as err, atomic_output(dst) as out:
        stamp(src, out, signer, sm2_party.seal, placements, StampOptions())
    assert err.value.code == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]  # no output, no temp file
    assert src.read_bytes() == data


def test_cli_stamps_a_pdf_from_its_path_and_reports_both_digests(dev_pki, tmp_path: Path, capsys) -> None:
    data = _document(filler=500_000)
    src, dst = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(data)
    argv = ["stamp", str(src), "-o", str(dst), "--place", "page=1,x=60,y=60", "--seam", "right",
            "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file), "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    pdf = dst.read_bytes()
    assert out["sm3_before"] == _sm3(data) and out["sm3_after"] == _sm3(pdf)
    assert src.read_bytes() == data
    assert main(["verify", str(dst), "--trust", str(dev_pki.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "valid"


def test_a_copy_started_by_the_caller_is_continued(ecdsa_party, tmp_path: Path) -> None:
    """The CLI starts copying before the stamper is loaded; a copy without the signature's digest
    (SM3 only, for an ECDSA key) still gives a valid document: the input is hashed once more for it."""
    data = _document(filler=300_000)
    src = tmp_path / "in.pdf"
    src.write_bytes(data)
    out = AppendOnlySink()
    copy = HashingCopy(src, out, ["sm3"]).start()
    result = stamp(copy, out, ecdsa_party.signer, ecdsa_party.seal, [At(1, 60, 60)], StampOptions())  # type: ignore[arg-type]
    pdf = out.value()
    assert _verdicts(pdf, ecdsa_party) == [("SealBridge_Seal_1", "valid")]
    assert (result.doc_sm3_before, result.doc_sm3_after) == (_sm3(data), _sm3(pdf))
    with pytest.raises(SealBridgeError) as err:
        stamp(
            HashingCopy(src, AppendOnlySink(), ["sm3"]),
            out,
            ecdsa_party.signer,
            ecdsa_party.seal,
            [At(1, 60, 60)],
            StampOptions(),
        )  # type: ignore[arg-type]
    assert err.value.code == "INTERNAL"  # a copy into another output cannot be continued


def test_cli_wrong_pin_leaves_no_output(dev_pki, tmp_path: Path, capsys) -> None:
    data = _document(filler=500_000)
    src, dst, pin = tmp_path / "in.pdf", tmp_path / "out.pdf", tmp_path / "pin"
    src.write_bytes(data)
    pin.write_text("not-the-pin-1\n")
    argv = ["stamp", str(src), "-o", str(dst), "--place", "page=1,x=60,y=60",
            "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(pin), "--json"]  # fmt: skip
    assert main(argv) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"].startswith("PIN_")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf", "pin"]
    assert src.read_bytes() == data


@pytest.mark.parametrize("kind", ["path", "bytes"])
def test_a_stamp_refused_by_its_checks_writes_nothing(sm2_party, tmp_path: Path, kind: str) -> None:
    """The hashing of a path or bytes starts with the stamp, before its checks; the output still gets no
    byte from a stamp they refuse, and no copy thread outlives it."""
    data = _document(filler=3_000_000)
    src = tmp_path / "in.pdf"
    src.write_bytes(data)
    out = AppendOnlySink()
    with pytest.raises(SealBridgeError) as err:
        stamp(
            src if kind == "path" else data,
            out,  # type: ignore[arg-type]
            sm2_party.signer,
            sm2_party.seal,
            [At(1, 60, 60), Keyword("没有这个词")],
            StampOptions(),
        )
    assert err.value.code == "PLACEMENT_INVALID"
    assert out.chunks == []
    assert [t for t in threading.enumerate() if t.name in ("hashing-copy", "copy-writer")] == []
