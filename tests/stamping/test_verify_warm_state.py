"""What a verifying process builds once and reuses for every document: the parsed trust anchors and
pyHanko's trust manager (PDF), the parsed anchors (OFD), the anchors' report summaries, and the agent's
anchor files (read again only when they change). Verdicts are unchanged by the reuse."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.server.methods.verify import _anchor_file, load_anchors
from devkit.material import make_cert
from devkit.sealed import seal_holder, sealed
from stamping.documents import document_format
from stamping.options import VerifyOptions
from stamping.pdf import anchors


@pytest.fixture(scope="module")
def holder():
    return seal_holder()


@pytest.mark.parametrize("kind", ["pdf", "ofd"])
def test_many_documents_one_set_of_anchors(holder, kind: str):
    others = [make_cert(f"其他根{i}")[1] for i in range(3)]
    trust = [*others, holder.root]
    docs = [sealed(kind, i, holder) for i in range(3)]
    before = anchors._trust_manager.cache_info()
    verdicts = [document_format(d).verify(d, VerifyOptions(trust_anchors=trust)).verdict for d in docs]
    assert verdicts == ["valid"] * 3
    after = anchors._trust_manager.cache_info()
    if kind == "pdf":
        assert after.misses - before.misses == 1 and after.hits - before.hits >= 2
    # Another anchor list is another entry: without the signer's root nothing is trusted any more.
    report = document_format(docs[0]).verify(docs[0], VerifyOptions(trust_anchors=others))
    assert report.verdict == "indeterminate"
    assert [a["sha256"] for a in report.policy["trust_anchors"]] == [
        hashlib.sha256(o).hexdigest() for o in others
    ]


def test_a_damaged_anchor_is_refused_every_time():
    from formats.errors import SealBridgeError

    for _ in range(2):
        with pytest.raises(SealBridgeError) as exc:
            anchors.parsed_certificates((b"\x30\x03\x02\x01\x01",))
        assert exc.value.code == "CERT_INVALID"


def test_the_agent_reads_an_anchor_file_again_only_when_it_changed(tmp_path: Path):
    first, second = make_cert("根甲")[1], make_cert("根乙")[1]
    path = tmp_path / "root.der"
    path.write_bytes(first)
    assert load_anchors([str(path), str(tmp_path / "missing.pem")]) == [first]
    hits = _anchor_file.cache_info().hits
    assert load_anchors([str(path)]) == [first]
    assert _anchor_file.cache_info().hits == hits + 1
    path.write_bytes(second + b"\n")  # another size: read again
    assert load_anchors([str(path)]) == [second + b"\n"]


def _tampered(kind: str, data: bytes) -> bytes:
    if kind == "pdf":
        out = bytearray(data)
        out[data.index(b"\n%", 5) + 2] ^= 1  # the binary comment after the header: signed
        return bytes(out)
    import io
    import zipfile

    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("Content.xml"):
                body = body.replace(b"</ofd:Layer>", b"<ofd:TextObject ID='999'/></ofd:Layer>", 1)
            dst.writestr(info, body)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["pdf", "ofd"])
def test_what_is_remembered_never_hides_a_change(holder, kind: str):
    """The same seal, signer and chain met before must not carry a valid verdict over to a changed copy."""
    data = sealed(kind, 5, holder)
    trust = VerifyOptions(trust_anchors=[holder.root])
    assert document_format(data).verify(data, trust).verdict == "valid"
    changed = _tampered(kind, data)
    assert document_format(changed).verify(changed, trust).verdict == "invalid"
    assert document_format(data).verify(data, trust).verdict == "valid"
