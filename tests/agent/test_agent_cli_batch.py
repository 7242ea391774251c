"""`sealbridge stamp IN… --out-dir DIR`: one login for every document, JSON Lines, a failure reported with
its code while the others are stamped, no output for the failed one."""

from __future__ import annotations

import json
from pathlib import Path

from devkit.documents import one_page_pdf
from sealbridge.cli import main
from tests.support.batch_checks import count_logins, verify_output


def test_stamp_many_into_a_folder(dev_pki, samples, tmp_path: Path, capsys, monkeypatch):
    login_count = count_logins(monkeypatch)
    ins = tmp_path / "in"
    ins.mkdir()
    original = one_page_pdf(1)
    (ins / "a.pdf").write_bytes(original)
    (ins / "b.ofd").write_bytes((samples / "ofd" / "unsigned-helloworld.ofd").read_bytes())
    (ins / "c.pdf").write_bytes(b"%PDF-1.7\n% truncated on purpose")
    (ins / "d.pdf").write_bytes(one_page_pdf(4))
    out = tmp_path / "out"
    out.mkdir()
    names = ["a.pdf", "b.ofd", "c.pdf", "d.pdf"]
    argv = ["stamp", *(str(ins / n) for n in names), "--out-dir", str(out), "--place", "page=1,x=60,y=60",
            "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file), "--json"]  # fmt: skip
    assert main(argv) == 2  # one document failed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["status"] for x in lines] == ["stamped", "stamped", "failed", "stamped"]
    assert lines[2]["error"]["code"] == "DOC_MALFORMED" and lines[2]["error"]["message_zh"]
    assert login_count[0] == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.pdf", "b.ofd", "d.pdf"]  # nothing partial for c
    for name in ("a.pdf", "b.ofd", "d.pdf"):
        assert verify_output((out / name).read_bytes()) == ("ok", "ok")
    assert (ins / "a.pdf").read_bytes() == original  # originals untouched


def test_out_dir_refusals(dev_pki, tmp_path: Path, capsys):
    a, b = tmp_path / "x" / "same.pdf", tmp_path / "y" / "same.pdf"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(one_page_pdf(2))
    token = ["--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file), "--json"]
    place = ["--place", "page=1,x=60,y=60"]
    assert main(["stamp", str(a), str(b), "--out-dir", str(tmp_path), *place, *token]) == 2
    assert "outputs would collide" in json.loads(capsys.readouterr().out)["error"]["detail"]
    assert main(["stamp", str(a), str(b), "-o", str(tmp_path / "o.pdf"), *place, *token]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "BAD_REQUEST"
    assert main(["stamp", str(a), "--out-dir", str(a.parent), *place, *token]) == 2  # would be the input
    assert json.loads(capsys.readouterr().out.splitlines()[0])["error"]["code"] == "BAD_REQUEST"
