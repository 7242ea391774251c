"""The `sealbridge stamp` / `sealbridge verify` commands on OFD, with a real soft token from the dev PKI."""

from __future__ import annotations

import json
import shutil

import pytest

from sealbridge.cli import main


@pytest.fixture(scope="module")
def devpki(tmp_path_factory):
    from agent.devpki import make_dev_pki

    return make_dev_pki(tmp_path_factory.mktemp("devpki"))


def _run(capsys, argv: list[str]) -> tuple[int, dict | str]:
    rc = main(argv)
    out = capsys.readouterr().out
    try:
        return rc, json.loads(out)
    except json.JSONDecodeError:
        return rc, out


def _stamp_args(devpki, src, dst, *placements: str) -> list[str]:
    return ["stamp", str(src), "-o", str(dst), "--token", f"soft:{devpki.tokens['sm2']}",
            "--pin-file", str(devpki.pin_file), *placements, "--json"]  # fmt: skip


def test_cli_stamp_then_verify(devpki, ofd_samples, tmp_path, capsys):
    src = tmp_path / "in.ofd"
    shutil.copy(ofd_samples / "unsigned-helloworld.ofd", src)
    before = src.read_bytes()
    dst = tmp_path / "out.ofd"
    rc, out = _run(
        capsys, _stamp_args(devpki, src, dst, "--place", "page=1,x=100,y=100", "--keyword", "OFD,dy=20")
    )
    assert rc == 0, out
    assert out["output"] == str(dst) and out["format"] == "ofd" and out["signatures"] == ["Sign_0"]
    assert out["pages"] == [1]
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    rc, report = _run(capsys, ["verify", str(dst), "--json", "--trust", str(devpki.root)])
    assert rc == 0 and report["verdict"] == "valid", report
    seal = report["seals"][0]
    assert seal["seal"]["esID"] == devpki.seal_ids["sm2"] and seal["seal"]["picture_png_base64"]
    # without trust anchors the chain is unknown → indeterminate, exit 3
    rc, report = _run(capsys, ["verify", str(dst), "--json"])
    assert rc == 3 and report["verdict"] == "indeterminate"


def test_cli_failure_leaves_no_output(devpki, ofd_samples, tmp_path, capsys):
    dst = tmp_path / "out.ofd"
    rc, out = _run(
        capsys,
        _stamp_args(devpki, ofd_samples / "ofdrw-v4-allprotected.ofd", dst, "--place", "page=1,x=50,y=50"),
    )
    assert rc == 2 and out["error"]["code"] == "DOC_LOCKED"
    rc, out = _run(
        capsys, _stamp_args(devpki, ofd_samples / "unsigned-helloworld.ofd", dst, "--keyword", "没有这个词")
    )
    assert rc == 2 and out["error"]["code"] == "PLACEMENT_INVALID"
    assert list(tmp_path.iterdir()) == []


def test_cli_wrong_pin(devpki, ofd_samples, tmp_path, capsys):
    pin = tmp_path / "pin"
    pin.write_text("000000\n")
    args = _stamp_args(
        devpki, ofd_samples / "unsigned-helloworld.ofd", tmp_path / "o.ofd", "--place", "page=1,x=50,y=50"
    )
    args[args.index("--pin-file") + 1] = str(pin)
    rc, out = _run(capsys, args)
    assert rc == 2 and out["error"]["code"] == "PIN_INCORRECT"
    assert not (tmp_path / "o.ofd").exists()


def test_cli_seal_file_for_another_signer(devpki, ofd_samples, tmp_path, capsys):
    args = _stamp_args(
        devpki, ofd_samples / "unsigned-helloworld.ofd", tmp_path / "o.ofd", "--place", "page=1,x=50,y=50"
    )
    args += ["--seal", str(devpki.seals["sm2b"])]
    rc, out = _run(capsys, args)
    assert rc == 2 and out["error"]["code"] == "SEAL_NOT_FOR_SIGNER"


def test_cli_verify_exit_codes(ofd_samples, samples, tmp_path, capsys):
    assert main(["verify", str(ofd_samples / "gomain-invoice-v4-tampered.ofd")]) == 1
    assert main(["verify", str(ofd_samples / "unsigned-helloworld.ofd")]) == 3
    capsys.readouterr()
    junk = tmp_path / "junk.ofd"
    junk.write_bytes(b"PK\x03\x04 broken")
    rc, out = _run(capsys, ["verify", str(junk), "--json"])
    assert rc == 2 and out["error"]["code"] == "DOC_MALFORMED"
    # a bare SM2 signature verifies once the certificate is supplied with --cert
    from formats.gm import load_pkcs12

    _, cert, _ = load_pkcs12((samples / "pki" / "ofdrw-user.p12").read_bytes(), "777777")
    pem = tmp_path / "user.der"
    pem.write_bytes(cert)
    rc, report = _run(
        capsys, ["verify", str(ofd_samples / "ofdrw-raw-digitalsign.ofd"), "--json", "--cert", str(pem)]
    )
    assert report["seals"][0]["checks"]["signature"]["status"] == "ok"
    rc, report = _run(capsys, ["verify", str(ofd_samples / "ofdrw-raw-digitalsign.ofd"), "--json"])
    assert report["seals"][0]["checks"]["signature"]["reasons"] == [{"code": "RAW_SM2_NO_CERT"}]


def test_cli_platform_flag_never_crashes(ofd_samples, capsys):
    rc, report = _run(
        capsys, ["verify", str(ofd_samples / "kinggrid-v1.ofd"), "--json", "--platform", "http://127.0.0.1:9"]
    )
    assert rc in (1, 3)
    assert report["seals"][0]["checks"]["platform_status"]["status"] in ("unknown", "failed")


def test_cli_dispatches_pdf_by_content(devpki, tmp_path, capsys):
    """The same commands sniff the content: a PDF named .ofd still goes to stamping.pdf."""
    import pikepdf

    src = tmp_path / "looks-like.ofd"
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.save(src)
    dst = tmp_path / "stamped.pdf"
    rc, out = _run(capsys, _stamp_args(devpki, src, dst, "--place", "page=1,x=100,y=100"))
    assert rc == 0 and out["format"] == "pdf", out
    rc, report = _run(capsys, ["verify", str(dst), "--json", "--trust", str(devpki.root)])
    assert report["format"] == "pdf" and rc == 0, report["verdict"]


def test_cli_rejects_other_content(tmp_path, capsys):
    junk = tmp_path / "x.zip"
    import zipfile

    with zipfile.ZipFile(junk, "w") as z:
        z.writestr("hello.txt", "hi")
    rc, out = _run(capsys, ["verify", str(junk), "--json"])
    assert rc == 2 and out["error"]["code"] == "DOC_UNSUPPORTED"


def test_cli_verify_of_a_large_ofd_hashes_the_file_while_loading(devpki, tmp_path, capsys):
    """From 4 MiB the CLI starts the file's SM3 and SHA-256 before the verifier is imported: the report's
    digests are still the file's, and a byte changed in a signed (stored) entry still fails the seal."""
    import hashlib
    import os

    from formats.gm import sm3
    from formats.ofd import OfdPackage
    from tests.support.ofd_maker import make_ofd, text_object
    from tests.support.ofd_zip import store_entry

    src = tmp_path / "big.ofd"
    data = make_ofd([text_object("大文件", 20, 200)], extra={"Doc_0/Res/scan.jpg": os.urandom(5 << 20)})
    src.write_bytes(store_entry(data, "Doc_0/Res/scan.jpg"))
    dst = tmp_path / "big-sealed.ofd"
    rc, out = _run(capsys, _stamp_args(devpki, src, dst, "--place", "page=1,x=100,y=100"))
    assert rc == 0, out
    sealed = dst.read_bytes()
    assert len(sealed) >= 5 << 20
    rc, report = _run(capsys, ["verify", str(dst), "--json", "--trust", str(devpki.root)])
    assert rc == 0 and report["verdict"] == "valid", report
    assert report["document"]["sm3"] == sm3(sealed).hex()
    assert report["document"]["sha256"] == hashlib.sha256(sealed).hexdigest()

    start, end = OfdPackage(sealed).raw_span("Doc_0/Res/scan.jpg")
    tampered = bytearray(sealed)
    tampered[(start + end) // 2] ^= 0x01
    bad = tmp_path / "tampered.ofd"
    bad.write_bytes(tampered)
    rc, report = _run(capsys, ["verify", str(bad), "--json", "--trust", str(devpki.root)])
    assert rc == 1 and report["verdict"] == "invalid", report
    assert report["seals"][0]["checks"]["integrity"]["status"] == "failed"
    assert report["document"]["sm3"] == sm3(bytes(tampered)).hex()
