"""The CLI names the thing at fault: a missing file, an empty one, a trust anchor that is not a certificate,
a wrong PIN with the tries left, no agent to pair with — each with its code (--json) and the file in the
message, never a traceback or a library's warning on stderr. Every command's --help ends with its exit codes
and an example. Run as the user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.agent_process import REPO, SEALBRIDGE


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("SEALBRIDGE_DEBUG", None)
    return subprocess.run(
        [*SEALBRIDGE, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def error_of(res: subprocess.CompletedProcess[str]) -> dict:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert res.stderr == "", res.stderr  # --json: the error object on stdout, nothing else anywhere
    return json.loads(res.stdout)["error"]


def clean_stderr(text: str) -> None:
    for noise in ("Traceback", "Warning", "Unclosed", "WARNING"):
        assert noise not in text, text


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    return h


def test_a_missing_file_an_empty_one_and_a_non_document_are_named(tmp_path: Path, home: Path):
    missing = tmp_path / "没有这个文件.pdf"
    err = error_of(run(["verify", str(missing), "--json"], home))
    assert err["code"] == "FILE_NOT_FOUND" and err["detail"] == str(missing)
    assert err["message_zh"] and err["message_en"]

    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    err = error_of(run(["verify", str(empty), "--json"], home))
    assert err["code"] == "DOC_EMPTY" and err["detail"] == str(empty)

    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    err = error_of(run(["verify", str(page), "--json"], home))
    assert err["code"] == "DOC_UNSUPPORTED" and str(page) in err["detail"]

    # Text mode: one line on stderr with the code and the file, no traceback.
    res = run(["verify", str(missing)], home)
    assert res.returncode == 2 and res.stdout == ""
    assert "FILE_NOT_FOUND" in res.stderr and str(missing) in res.stderr
    clean_stderr(res.stderr)


def test_a_pipe_or_a_device_is_refused_at_once(tmp_path: Path, home: Path):
    """A named pipe nobody writes to, or a device, is not a document file: refused as not a regular file
    without being opened (the open of a pipe would wait for a writer for ever), by verify and stamp alike."""
    fifo = tmp_path / "upload.pdf"
    os.mkfifo(fifo)
    for path in (fifo, Path(os.devnull)):
        err = error_of(run(["verify", str(path), "--json"], home))
        assert (err["code"], err["detail"]) == ("BAD_REQUEST", f"{path} is not a regular file")
    pin = tmp_path / "pin"
    pin.write_text("123456")
    stamp = ["stamp", str(fifo), "-o", str(tmp_path / "out.pdf"), "--place", "page=1,x=60,y=60",
             "--token", f"soft:{tmp_path / 'no.soft'}", "--pin-file", str(pin), "--json"]  # fmt: skip
    err = error_of(run(stamp, home))
    assert (err["code"], err["detail"]) == ("BAD_REQUEST", f"{fifo} is not a regular file")
    assert not (tmp_path / "out.pdf").exists()


def test_a_pipe_among_the_anchors_or_as_the_token_is_never_waited_on(
    tmp_path: Path, home: Path, dev_pki, sample_pdf
):
    """A folder of trust anchors is read for its regular files (a pipe named *.pem there is passed over, not
    opened), and a pipe named as the soft token is refused as not a regular file."""
    doc = tmp_path / "form.pdf"
    doc.write_bytes(sample_pdf)
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(dev_pki.roots["sm2"], trust / "root.der")
    os.mkfifo(trust / "waiting.pem")
    res = run(["verify", str(doc), "--trust", str(trust), "--json"], home)
    assert res.returncode == 3 and json.loads(res.stdout)["verdict"] == "no_seals", (res.stdout, res.stderr)

    fifo = tmp_path / "clerk.soft"
    os.mkfifo(fifo)
    pin = tmp_path / "pin"
    pin.write_text("123456")
    out = tmp_path / "out.pdf"
    stamp = ["stamp", str(doc), "-o", str(out), "--place", "page=1,x=60,y=60",
             "--token", f"soft:{fifo}", "--pin-file", str(pin), "--json"]  # fmt: skip
    err = error_of(run(stamp, home))
    assert (err["code"], err["detail"]) == ("BAD_REQUEST", f"{fifo} is not a regular file")
    assert not out.exists()


def test_a_trust_anchor_that_is_not_a_certificate(tmp_path: Path, home: Path, dev_pki, sample_pdf):
    doc = tmp_path / "form.pdf"
    doc.write_bytes(sample_pdf)
    err = error_of(run(["verify", str(doc), "--trust", str(doc), "--json"], home))
    assert err["code"] == "TRUST_ANCHOR_INVALID", err
    assert err["detail"].startswith(str(doc)) and "PDF" in err["detail"], err
    empty_dir = tmp_path / "trust"
    empty_dir.mkdir()
    err = error_of(run(["verify", str(doc), "--trust", str(empty_dir), "--json"], home))
    assert err["code"] == "TRUST_ANCHOR_INVALID" and str(empty_dir) in err["detail"], err
    err = error_of(run(["verify", str(doc), "--trust", str(tmp_path / "nope.pem"), "--json"], home))
    assert err["code"] == "FILE_NOT_FOUND" and err["detail"] == str(tmp_path / "nope.pem")
    # A good anchor passes: the document itself is then judged (no seals: exit 3).
    res = run(["verify", str(doc), "--trust", str(dev_pki.roots["sm2"]), "--json"], home)
    assert res.returncode == 3 and json.loads(res.stdout)["verdict"] == "no_seals"


def test_a_wrong_pin_says_the_tries_left_and_an_unreachable_platform_leaks_nothing(
    tmp_path: Path, home: Path, dev_pki, sample_pdf
):
    token = tmp_path / "sm2.soft"
    shutil.copy(dev_pki.tokens["sm2"], token)  # the wrong PIN counts down on this copy only
    doc = tmp_path / "form.pdf"
    doc.write_bytes(sample_pdf)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("000000\n")
    stamp = ["stamp", str(doc), "-o", str(tmp_path / "out.pdf"), "--token", f"soft:{token}"]
    stamp += ["--place", "page=1,x=60,y=60"]
    res = run([*stamp, "--pin-file", str(wrong)], home)
    assert res.returncode == 2 and "PIN_INCORRECT" in res.stderr, res.stderr
    assert "tries left" in res.stderr and "还可尝试" in res.stderr, res.stderr
    clean_stderr(res.stderr)
    assert not (tmp_path / "out.pdf").exists()

    res = run([*stamp, "--pin-file", str(dev_pki.pin_file)], home)
    assert res.returncode == 0, res.stderr
    # The platform cannot be reached: the status is unknown (exit 3), and stderr stays empty — no aiohttp
    # "Unclosed client session", no pyHanko path-building warning.
    res = run(["verify", str(tmp_path / "out.pdf"), "--platform", "http://127.0.0.1:9/"], home)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert res.stderr == "", res.stderr


def _address_space_limited() -> None:
    """(In the child.) 2 GiB of address space: a reader that never stops fails there, not the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_a_file_that_never_ends_is_refused_not_read_whole(tmp_path: Path, home: Path, dev_pki, sample_pdf):
    """A trust anchor, an extra certificate, a seal or a PIN file is read to a bound (16 MiB; 64 KiB for a
    PIN): /dev/zero given as one is BAD_REQUEST naming it, not a MemoryError after every byte it can read."""
    doc = tmp_path / "form.pdf"
    doc.write_bytes(sample_pdf)
    stamp = ["stamp", str(doc), "-o", str(tmp_path / "out.pdf"), "--token", f"soft:{dev_pki.tokens['sm2']}",
             "--place", "page=1,x=60,y=60", "--json"]  # fmt: skip
    for args in (["verify", str(doc), "--trust", "/dev/zero", "--json"],
                 ["verify", str(doc), "--cert", "/dev/zero", "--json"],
                 ["seal", "inspect", "/dev/zero", "--json"],
                 [*stamp, "--pin-file", "/dev/zero"]):  # fmt: skip
        env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
        res = subprocess.run([*SEALBRIDGE, *args], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120, preexec_fn=_address_space_limited)  # fmt: skip
        err = error_of(res)
        pin = args[-1] == "/dev/zero" and args[-2] == "--pin-file"
        expected = "secret file /dev/zero: no line end" if pin else "/dev/zero holds more than"
        assert err["code"] == "BAD_REQUEST" and err["detail"].startswith(expected), (args, err)
    assert not (tmp_path / "out.pdf").exists()


def test_a_pin_file_is_utf8_with_or_without_a_byte_order_mark(
    tmp_path: Path, home: Path, dev_pki, sample_pdf
):
    """A PIN file saved by Windows Notepad starts with a byte-order mark: the PIN is what follows it. One that
    is not UTF-8 text is refused by its code, without a traceback and without its bytes in the message."""
    doc = tmp_path / "form.pdf"
    doc.write_bytes(sample_pdf)
    token = tmp_path / "sm2.soft"
    shutil.copy(dev_pki.tokens["sm2"], token)  # a PIN read wrong would count down on this copy only
    pin = dev_pki.pin_file.read_text(encoding="utf-8").splitlines()[0]
    stamp = ["stamp", str(doc), "-o", str(tmp_path / "out.pdf"), "--token", f"soft:{token}",
             "--place", "page=1,x=60,y=60", "--json"]  # fmt: skip
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"\xe9" + pin.encode() + b"\r\n")
    err = error_of(run([*stamp, "--pin-file", str(latin)], home))
    assert (err["code"], err["detail"]) == ("BAD_REQUEST", f"secret file {latin} is not UTF-8 text")
    notepad = tmp_path / "notepad.txt"
    notepad.write_bytes(b"\xef\xbb\xbf" + pin.encode() + b"\r\n")
    res = run([*stamp, "--pin-file", str(notepad)], home)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert (tmp_path / "out.pdf").exists()


def test_pair_checks_that_the_agent_runs(home: Path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = error_of(run(["pair", "--port", str(port), "--json"], home))
    assert err["code"] == "AGENT_UNAVAILABLE" and f"127.0.0.1:{port}" in err["detail"], err
    assert not (home / "data" / "pairing.secret").exists()  # nothing made for an agent that is not there
    res = run(["pair", "--port", str(port), "--offline", "--json"], home)
    assert res.returncode == 0 and json.loads(res.stdout)["code"].startswith(f"SBP1-{port}-")


def test_every_command_help_has_exit_codes_and_an_example(home: Path):
    from sealbridge.cli import build_parser
    from sealbridge.helptext import add_epilogs

    assert add_epilogs(build_parser()) == []
    res = run(["verify", "--help"], home)
    assert res.returncode == 0
    assert (
        "3 indeterminate" in res.stdout and "示例 example" in res.stdout and "sealbridge verify" in res.stdout
    )
    res = run(["central", "admin", "revoke", "--help"], home)
    assert "退出码 exit codes" in res.stdout


def test_demo_allow_site_takes_an_origin_only(home: Path, tmp_path: Path):
    from sealbridge.demo.workspace import Workspace
    from sealbridge.demo_cmd import site_origin

    assert site_origin("http://localhost:8080/") == "http://localhost:8080"
    assert site_origin("https://OA.example.cn") == "https://oa.example.cn"
    res = run(["demo", "--allow-site", "http://oa.example.cn", "--once"], home)
    assert res.returncode == 2 and "--allow-site" in res.stderr and "oa.example.cn" in res.stderr
    clean_stderr(res.stderr)

    ws = Workspace(tmp_path / "demo")
    ws.config.parent.mkdir(parents=True)
    cfg = ws.write_agent_config(
        port=1,
        portal_origin="http://127.0.0.1:2",
        platform_url="http://127.0.0.1:3",
        platform_anchor=tmp_path / "a.pem",
        trust_anchor=tmp_path / "t.pem",
        extra_sites=("http://localhost:8080",),
    )
    assert cfg["site_policy"] == {"http://127.0.0.1:2": "allowed", "http://localhost:8080": "allowed"}
