"""`sealbridge verify FILE… | DIR`: many documents in one run — a verdict per file (PDF and OFD recognised
by content), JSON Lines that validate against the report schema, the run's exit code (2 error > 1 invalid
> 3 indeterminate > 0), the same lines with --jobs 2 as with --jobs 1, one file exactly as before."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import jsonschema
import pytest

from agent.cli.verify_batch import _verify_in_worker, batch_exit_code
from devkit.documents import one_page_pdf
from sealbridge.cli import main

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report-v2.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sealed(dev_pki, samples, tmp_path_factory) -> dict[str, Path]:
    """A PDF and an OFD sealed through `sealbridge stamp`, a tampered copy of the PDF."""
    work = tmp_path_factory.mktemp("sealed")
    src = {"pdf": work / "in.pdf", "ofd": work / "in.ofd"}
    src["pdf"].write_bytes(one_page_pdf(7))
    shutil.copy(samples / "ofd" / "unsigned-helloworld.ofd", src["ofd"])
    out = {}
    for kind, path in src.items():
        out[kind] = work / f"sealed.{kind}"
        argv = ["stamp", str(path), "-o", str(out[kind]), "--place", "page=1,x=60,y=60",
                "--token", f"soft:{dev_pki.tokens['sm2']}", "--pin-file", str(dev_pki.pin_file)]  # fmt: skip
        assert main(argv) == 0
    data = bytearray(out["pdf"].read_bytes())
    at = data.index(b"\n%", 5) + 2  # the binary comment after the header: inside the signed range
    data[at] ^= 1
    out["tampered"] = work / "tampered.pdf"
    out["tampered"].write_bytes(bytes(data))
    return out


@pytest.fixture
def folder(sealed, samples, tmp_path) -> Path:
    top = tmp_path / "uploads"
    (top / "day2").mkdir(parents=True)
    shutil.copy(sealed["pdf"], top / "a-valid.pdf")
    shutil.copy(sealed["ofd"], top / "day2" / "b-valid.data")  # an OFD whatever its name says
    shutil.copy(sealed["tampered"], top / "c-tampered.pdf")
    (top / "d-garbage.pdf").write_bytes(b"%PDF-1.7\n% cut short, no objects at all")
    (top / "e-notes.txt").write_text("会议纪要 minutes", encoding="utf-8")
    return top


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["verify", *argv])
    res = capsys.readouterr()
    return rc, res.out, res.err


def trust(dev_pki) -> list[str]:
    return ["--trust", str(dev_pki.roots["sm2"])]


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_folder_gives_a_verdict_per_file_and_json_lines(dev_pki, folder, capsys):
    rc, out, err = run(capsys, str(folder), *trust(dev_pki), "--json")
    lines = json_lines(out)
    got = {Path(x["file"]).relative_to(folder).as_posix(): x for x in lines}
    assert list(got) == ["a-valid.pdf", "c-tampered.pdf", "d-garbage.pdf", "e-notes.txt", "day2/b-valid.data"]
    assert [x["status"] for x in got.values()] == ["verified", "verified", "error", "skipped", "verified"]
    assert got["a-valid.pdf"]["verdict"] == "valid" and got["a-valid.pdf"]["exit_code"] == 0
    assert got["day2/b-valid.data"]["report"]["format"] == "ofd"
    assert got["day2/b-valid.data"]["verdict"] == "valid"
    assert got["c-tampered.pdf"]["verdict"] == "invalid" and got["c-tampered.pdf"]["exit_code"] == 1
    assert got["d-garbage.pdf"]["error"]["code"] == "DOC_MALFORMED" and got["d-garbage.pdf"]["exit_code"] == 2
    assert got["e-notes.txt"]["note"]["code"] == "DOC_UNSUPPORTED"
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for line in lines:
        if line["status"] == "verified":
            validator.validate(line["report"])
            assert line["verdict"] == line["report"]["verdict"]
    assert rc == 2  # an error outranks the invalid document
    assert err == ""


def _without_times(lines: list[dict]) -> list[dict]:
    """The lines without what differs between any two runs: times, and object addresses in parser errors."""
    text = json.dumps(lines, sort_keys=True)
    for line in lines:
        if "report" in line:
            text = text.replace(line["report"]["validation_time"], "T")
    return json.loads(re.sub(r"0x[0-9a-f]+", "0x", text))


def test_two_worker_processes_give_the_same_lines_in_the_same_order(dev_pki, folder, capsys):
    rc1, out1, _ = run(capsys, str(folder), *trust(dev_pki), "--json", "--jobs", "1")
    rc2, out2, _ = run(capsys, str(folder), *trust(dev_pki), "--json", "--jobs", "2")
    assert rc1 == rc2 == 2
    assert _without_times(json_lines(out1)) == _without_times(json_lines(out2))


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a-valid.pdf", "day2"], 0),
        (["a-valid.pdf", "c-tampered.pdf", "unsealed.ofd"], 1),
        (["a-valid.pdf", "unsealed.ofd"], 3),
        (["c-tampered.pdf", "missing.pdf"], 2),
    ],
)
def test_the_run_exit_code(dev_pki, folder, samples, capsys, names, expected):
    shutil.copy(samples / "ofd" / "unsigned-helloworld.ofd", folder / "unsealed.ofd")
    rc, out, _ = run(capsys, *(str(folder / n) for n in names), *trust(dev_pki), "--json", "--jobs", "2")
    assert rc == expected, out
    if expected == 2:
        assert json_lines(out)[-1]["error"]["code"] == "FILE_NOT_FOUND"  # named: an error, not skipped


def test_exit_code_precedence():
    assert batch_exit_code([0, 0]) == 0
    assert batch_exit_code([0, 3, 1]) == 1
    assert batch_exit_code([3, 0]) == 3
    assert batch_exit_code([1, 2, 3]) == 2
    assert batch_exit_code([]) == 2  # nothing verified is not "all valid"


def test_human_output_is_a_line_per_file_and_a_summary(dev_pki, folder, capsys):
    rc, out, _ = run(capsys, str(folder), *trust(dev_pki), "--lang", "zh")
    lines = out.splitlines()
    assert rc == 2
    assert lines[0] == f"{folder / 'a-valid.pdf'}：有效"
    assert lines[1] == f"{folder / 'c-tampered.pdf'}：文档在盖章后被修改"
    assert lines[2].startswith(f"{folder / 'd-garbage.pdf'}：错误 [DOC_MALFORMED] ")
    assert lines[3] == f"{folder / 'e-notes.txt'}：已跳过：不是 PDF 或 OFD 文档"
    assert lines[-1] == "共 4 份文档：有效 2，无效 1，无法确定 0，出错 1；跳过其他文件 1 个"
    rc, out, _ = run(
        capsys, str(folder / "a-valid.pdf"), str(folder / "day2"), *trust(dev_pki), "--lang", "en"
    )
    assert rc == 0
    assert out.splitlines()[-1] == "2 documents: 2 valid, 0 invalid, 0 indeterminate, 0 errors"


def test_a_pipe_in_a_folder_is_skipped_unopened(dev_pki, folder, capsys):
    """A named pipe among the uploads (nobody writing to it) is skipped without being opened: the run goes
    on to the other files instead of waiting for a writer."""
    os.mkfifo(folder / "b-pipe.pdf")
    rc, out, _ = run(capsys, str(folder), *trust(dev_pki), "--json")
    got = {Path(x["file"]).name: x for x in json_lines(out)}
    assert got["b-pipe.pdf"]["status"] == "skipped"
    assert got["b-pipe.pdf"]["note"]["code"] == "DOC_UNSUPPORTED"
    assert got["b-pipe.pdf"]["note"]["detail"] == "not a regular file (a pipe, device or socket): not read"
    assert got["a-valid.pdf"]["verdict"] == "valid" and got["b-valid.data"]["verdict"] == "valid"
    assert rc == 2  # d-garbage.pdf, as without the pipe
    _, out, _ = run(capsys, str(folder), *trust(dev_pki), "--lang", "zh")
    assert f"{folder / 'b-pipe.pdf'}：已跳过：不是普通文件（管道、设备或套接字），未读取" in out.splitlines()


def test_folders_nested_past_the_recursion_limit_are_walked(dev_pki, sealed, tmp_path, capsys):
    """An upload folder nested deeper than Python's recursion limit (os.walk would recurse once per level
    and end the run): every document in it is verified, top-down in name order."""
    depth = sys.getrecursionlimit() + 50
    top = tmp_path / "deep"
    levels = [top / os.path.join(*["d"] * n) if n else top for n in range(depth + 1)]
    try:
        for level in levels:  # one at a time: Path.mkdir(parents=True) recurses too
            level.mkdir()
        shutil.copy(sealed["pdf"], top / "a-top.pdf")
        shutil.copy(sealed["pdf"], levels[-1] / "b-bottom.pdf")
        rc, out, _ = run(capsys, str(top), *trust(dev_pki), "--json")
        lines = json_lines(out)
        found = [os.path.relpath(line["file"], top) for line in lines]
        assert found == ["a-top.pdf", os.path.join(*["d"] * depth, "b-bottom.pdf")], [f[-40:] for f in found]
        assert [line["verdict"] for line in lines] == ["valid", "valid"] and rc == 0
    finally:
        # Taken down here, bottom up: pytest's clean-up of old temp folders (shutil.rmtree) recurses too,
        # and would fail every later session on this tree.
        for name in ("a-top.pdf", os.path.join(*["d"] * depth, "b-bottom.pdf")):
            (top / name).unlink(missing_ok=True)
        for level in reversed(levels):
            with contextlib.suppress(FileNotFoundError):
                level.rmdir()


def test_one_file_keeps_the_single_report(dev_pki, sealed, capsys):
    rc, out, _ = run(capsys, str(sealed["pdf"]), *trust(dev_pki), "--json")
    report = json.loads(out)  # one pretty-printed report, not a JSON line with a "file"
    assert rc == 0 and report["verdict"] == "valid" and "file" not in report
    assert out.count("\n") > 1
    rc, out, _ = run(capsys, str(sealed["pdf"]), *trust(dev_pki), "--lang", "en")
    assert rc == 0 and out.splitlines()[0] == "Valid" and out.splitlines()[1].startswith("Document: ")


def test_a_folder_without_documents_and_evidence_for_many_are_errors(dev_pki, folder, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing here", encoding="utf-8")
    rc, out, _ = run(capsys, str(empty), "--json")
    assert rc == 2
    assert json_lines(out)[-1]["error"]["code"] == "BAD_REQUEST"
    rc, out, _ = run(capsys, str(folder), "--evidence", str(tmp_path / "e.pdf"), "--json")
    assert rc == 2 and json.loads(out)["error"]["code"] == "BAD_REQUEST"
    assert not (tmp_path / "e.pdf").exists()


def test_jobs_must_be_a_positive_number(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "x.pdf", "y.pdf", "--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs" in capsys.readouterr().err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_platform_that_cannot_be_reached_is_reported_per_document(dev_pki, sealed, tmp_path, capsys, jobs):
    """One platform client per process: every report names the platform and says its status is unknown."""
    url = "http://127.0.0.1:9"
    names = [sealed["pdf"], sealed["ofd"]]
    rc, out, err = run(
        capsys, *(str(n) for n in names), *trust(dev_pki), "--platform", url, "--json", "--jobs", jobs
    )
    lines = json_lines(out)
    assert [x["status"] for x in lines] == ["verified", "verified"], lines
    for line in lines:
        assert line["report"]["policy"]["platform"]["url"] == url
        assert line["report"]["seals"][0]["checks"]["platform_status"]["status"] == "unknown"
    assert rc == 3 and err == ""


def _dies_on_the_tampered_one(entry):  # type: ignore[no-untyped-def]
    """A worker's verification that is killed on one document (module level: the pool pickles it by name)."""
    if entry.path.endswith("c-tampered.pdf"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _verify_in_worker(entry)


def test_a_worker_that_dies_costs_only_its_document(dev_pki, folder, capsys, monkeypatch):
    """A worker killed while verifying one document (the out-of-memory killer, a crash in a C library):
    that document gets an error line, every other one its verdict, in order, and the run exit code 2."""
    from agent.cli import verify_batch

    _, expected, _ = run(capsys, str(folder), *trust(dev_pki), "--json", "--jobs", "1")
    monkeypatch.setattr(
        verify_batch, "_verify_in_worker", _dies_on_the_tampered_one
    )  # workers fork from here
    rc, out, err = run(capsys, str(folder), *trust(dev_pki), "--json", "--jobs", "2")
    assert rc == 2 and "Traceback" not in err
    lines, before = json_lines(out), json_lines(expected)
    assert [line["file"] for line in lines] == [line["file"] for line in before]
    for line, alone in zip(_without_times(lines), _without_times(before), strict=True):
        if line["file"].endswith("c-tampered.pdf"):
            assert line["status"] == "error" and line["exit_code"] == 2, line
            assert line["error"]["code"] == "INTERNAL"
        else:
            assert line == alone
