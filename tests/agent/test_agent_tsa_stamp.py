"""Stamping with trusted time from the real central platform's TSA (`sealbridge stamp --tsa`), verified by
our verifier, by an independent token check (asn1crypto + the gmssl SM2 backend) and by stock pyHanko; and a
TSA whose answers are wrong is refused."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import cms, tsp, x509

from central.tsa import build_token, granted, parse_request
from central.tsa_keys import TsaKey
from devkit.central_process import start_central
from formats.gm import SM2PrivateKey, SM2PublicKey, register_asn1crypto_oids, sm3
from formats.ses import parse_signature
from formats.x509 import build_certificate
from sealbridge.cli import main


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, _, handle = start_central(tmp_path_factory.mktemp("tsa-platform"))
    yield url
    handle.stop()


def _stamp(capsys, dev_pki, kind: str, src: Path, dst: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    pin = src.parent / "pin"
    pin.write_text(dev_pki.pin + "\n")
    code = main(
        ["stamp", str(src), "-o", str(dst), "--token", f"soft:{dev_pki.tokens[kind]}", "--pin-file", str(pin),
         "--place", "page=1,x=60,y=60", "--json", *extra]
    )  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def _verify(capsys, dev_pki, kind: str, path: Path, platform: str) -> dict:  # type: ignore[no-untyped-def]
    main(["verify", str(path), "--trust", str(dev_pki.roots[kind]), "--platform", platform, "--json"])
    return json.loads(capsys.readouterr().out)


def _input(tmp_path: Path, samples: Path, sample_pdf: bytes, fmt: str) -> Path:
    src = tmp_path / f"in.{fmt}"
    data = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes() if fmt == "ofd" else sample_pdf
    src.write_bytes(data)
    return src


def _check_token_independently(token: bytes, covered: bytes, hash_name: str) -> None:
    """Imprint and TSA signature, without our verifier: asn1crypto, and gmssl for SM2."""
    register_asn1crypto_oids()
    signed = cms.ContentInfo.load(token)["content"]
    tst_der = signed["encap_content_info"]["content"].contents
    imprint = tsp.TSTInfo.load(tst_der)["message_imprint"]["hashed_message"].native
    expected = sm3(covered) if hash_name == "sm3" else hashlib.sha256(covered).digest()
    assert imprint == expected
    signer = signed["signer_infos"][0]
    serial = signer["sid"].chosen["serial_number"].native
    cert = next(c.chosen for c in signed["certificates"] if c.chosen.serial_number == serial)
    assert cert.extended_key_usage_value.native == ["time_stamping"]
    if hash_name == "sm3":
        attrs = b"\x31" + signer["signed_attrs"].dump()[1:]
        assert SM2PublicKey.from_spki(cert.public_key).verify(
            attrs, signer["signature"].native, backend="gmssl"
        )


def test_ofd_sm2_with_platform_timestamp(platform, dev_pki, samples, sample_pdf, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    dst = tmp_path / "out.ofd"
    code, out = _stamp(
        capsys,
        dev_pki,
        "sm2",
        _input(tmp_path, samples, sample_pdf, "ofd"),
        dst,
        "--tsa",
        f"{platform}/api/v1/tsa",
    )
    assert code == 0 and out["timestamp"] == "tsa", out
    seal = _verify(capsys, dev_pki, "sm2", dst, platform)["seals"][0]
    assert seal["checks"]["timestamp"]["status"] == "ok", seal["checks"]["timestamp"]
    assert seal["extra"]["signing_time_source"] == "tsa"
    assert seal["extra"]["best_signature_time"] == seal["signed_at"]
    with zipfile.ZipFile(dst) as z:
        value = parse_signature(z.read("Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert value.timestamp
    _check_token_independently(value.timestamp, value.signature, "sm3")


@pytest.mark.parametrize("kind", ["sm2", "ecdsa"])
def test_pdf_with_platform_timestamp(kind, platform, dev_pki, samples, sample_pdf, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    dst = tmp_path / "out.pdf"
    code, out = _stamp(
        capsys,
        dev_pki,
        kind,
        _input(tmp_path, samples, sample_pdf, "pdf"),
        dst,
        "--tsa",
        f"{platform}/api/v1/tsa",
    )
    assert code == 0 and out["timestamp"] == "tsa", out
    seal = _verify(capsys, dev_pki, kind, dst, platform)["seals"][0]
    assert seal["checks"]["timestamp"]["status"] == "ok", seal["checks"]["timestamp"]
    assert seal["extra"]["signing_time_source"] == "tsa"
    emb = PdfFileReader(io.BytesIO(dst.read_bytes())).embedded_signatures[0]
    token_attr = next(
        a for a in emb.signer_info["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token"
    )
    _check_token_independently(
        token_attr["values"][0].dump(),
        emb.signer_info["signature"].native,
        "sm3" if kind == "sm2" else "sha256",
    )


def test_stock_pyhanko_validates_the_ecdsa_b_t_timestamp(
    platform, dev_pki, samples, sample_pdf, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """No SM2 plug-in: pyHanko as shipped, trusting the signer's root and the platform's ECDSA root."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from agent.tsa_client import platform_roots
    from formats.gm.keys import load_certificate

    dst = tmp_path / "out.pdf"
    _stamp(
        capsys,
        dev_pki,
        "ecdsa",
        _input(tmp_path, samples, sample_pdf, "pdf"),
        dst,
        "--tsa",
        f"{platform}/api/v1/tsa",
    )
    roots = [x509.Certificate.load(d) for d in platform_roots(platform)]
    signer_root = load_certificate(Path(dev_pki.roots["ecdsa"]).read_bytes())
    emb = PdfFileReader(io.BytesIO(dst.read_bytes())).embedded_signatures[0]
    status = validate_pdf_signature(
        emb,
        signer_validation_context=ValidationContext(trust_roots=[signer_root], allow_fetching=False),
        ts_validation_context=ValidationContext(trust_roots=roots, allow_fetching=False),
    )
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted, ts


# -- a TSA that answers wrongly ------------------------------------------------------------------------------
def _tsa_key_without_eku() -> TsaKey:
    root_key, key = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    root = build_certificate({"common_name": "Bad TSA Root"}, root_key, None, root_key, ca=True)
    cert = build_certificate(
        {"common_name": "TSA without EKU"}, key, root, root_key, key_usage=["digital_signature"]
    )
    return TsaKey("tsa-sm2", key, cert, root)


@pytest.fixture
def bad_tsa(platform) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """Forwards to the real platform, then spoils the answer the way `state["mode"]` says."""
    state: dict = {"mode": "ok"}
    no_eku = _tsa_key_without_eku()

    def forward(body: bytes) -> bytes:
        req = urllib.request.Request(f"{platform}/api/v1/tsa", data=body, method="POST",
                                     headers={"Content-Type": "application/timestamp-query"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            req = tsp.TimeStampReq.load(body)
            mode = state["mode"]
            if mode == "imprint":
                digest = req["message_imprint"]["hashed_message"].native
                other = tsp.TimeStampReq(
                    {
                        **_req_fields(req),
                        "message_imprint": {
                            "hash_algorithm": req["message_imprint"]["hash_algorithm"],
                            "hashed_message": bytes(len(digest)),
                        },
                    }
                )
                reply = forward(other.dump())
            elif mode == "nonce":
                reply = forward(
                    tsp.TimeStampReq({**_req_fields(req), "nonce": req["nonce"].native + 1}).dump()
                )
            else:
                parsed = parse_request(body)
                reply = granted(build_token(parsed, 1, _now(), no_eku))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    yield state
    server.shutdown()
    server.server_close()


def _req_fields(req: tsp.TimeStampReq) -> dict:
    return {
        "version": "v1",
        "message_imprint": req["message_imprint"],
        "nonce": req["nonce"],
        "cert_req": True,
    }


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)


@pytest.mark.parametrize("fmt", ["ofd", "pdf"])
@pytest.mark.parametrize("mode", ["imprint", "nonce", "no_eku"])
def test_wrong_tsa_answers_are_refused(
    mode, fmt, bad_tsa, dev_pki, samples, sample_pdf, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    bad_tsa["mode"] = mode
    dst = tmp_path / f"out.{fmt}"
    code, out = _stamp(
        capsys, dev_pki, "sm2", _input(tmp_path, samples, sample_pdf, fmt), dst, "--tsa", bad_tsa["url"]
    )
    assert code == 2 and out["error"]["code"] == "TIMESTAMP_FAILED", out
    why = {"imprint": "imprint", "nonce": "nonce", "no_eku": "timeStamping"}[mode]
    assert why in out["error"]["detail"]
    assert not dst.exists()


def test_tsa_down_refuses_unless_optional(dev_pki, samples, sample_pdf, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _input(tmp_path, samples, sample_pdf, "ofd")
    dst = tmp_path / "out.ofd"
    code, out = _stamp(capsys, dev_pki, "sm2", src, dst, "--tsa", "http://127.0.0.1:9/api/v1/tsa")
    assert code == 2 and out["error"]["code"] == "TSA_UNREACHABLE" and out["error"]["message_zh"]
    assert not dst.exists()
    code, out = _stamp(
        capsys, dev_pki, "sm2", src, dst, "--tsa", "http://127.0.0.1:9/api/v1/tsa", "--tsa-optional"
    )
    assert code == 0 and out["timestamp"] == "skipped" and dst.exists()


def test_several_documents_each_report_their_timestamp(
    platform, dev_pki, samples, sample_pdf, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """`stamp IN… --out-dir`: every JSON line says how its time was set; a required TSA that is down fails
    each document (exit 2) and writes nothing."""
    ins = [_input(tmp_path, samples, sample_pdf, fmt) for fmt in ("pdf", "ofd")]
    pin = tmp_path / "pin"
    pin.write_text(dev_pki.pin + "\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = ["stamp", *map(str, ins), "--out-dir", str(out_dir), "--token", f"soft:{dev_pki.tokens['sm2']}",
            "--pin-file", str(pin), "--place", "page=1,x=60,y=60", "--json"]  # fmt: skip
    assert main([*argv, "--tsa", platform + "/api/v1/tsa"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["status"], line["timestamp"]) for line in lines] == [("stamped", "tsa")] * 2
    for line in lines:
        Path(line["output"]).unlink()
    assert main([*argv, "--tsa", "http://127.0.0.1:9/api/v1/tsa"]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["error"]["code"] for line in lines] == ["TSA_UNREACHABLE"] * 2
    assert not list(out_dir.iterdir())
