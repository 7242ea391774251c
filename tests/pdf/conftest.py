"""PDF test fixtures: SM2, RSA and ECDSA signers with certificates from small test CAs, and their seals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign.timestamps import DummyTimeStamper

from formats.gm import SM2PrivateKey
from formats.picture import draw_round_seal
from formats.x509 import build_certificate
from tests.support.pdf_parties import SEAL_MM, Party, make_party


@pytest.fixture(scope="session")
def seal_picture() -> bytes:
    return draw_round_seal("示例科技有限公司", "合同专用章", diameter_mm=SEAL_MM, px_per_mm=6)


@pytest.fixture(scope="session")
def seal_maker() -> tuple[SM2PrivateKey, bytes]:
    key = SM2PrivateKey.generate()
    cert = build_certificate(
        {"common_name": "Test Seal Maker", "organization_name": "SealBridge Test"}, key, None, key
    )
    return key, cert


@pytest.fixture(scope="session")
def sm2_party(seal_maker, seal_picture) -> Party:
    return make_party("sm2", seal_maker, seal_picture)


@pytest.fixture(scope="session")
def rsa_party(seal_maker, seal_picture) -> Party:
    return make_party("rsa", seal_maker, seal_picture)


@pytest.fixture(scope="session")
def ecdsa_party(seal_maker, seal_picture) -> Party:
    return make_party("ecdsa", seal_maker, seal_picture)


@pytest.fixture(params=["sm2", "rsa", "ecdsa"])
def party(request, sm2_party, rsa_party, ecdsa_party) -> Party:  # type: ignore[no-untyped-def]
    return {"sm2": sm2_party, "rsa": rsa_party, "ecdsa": ecdsa_party}[request.param]


# --- PAdES B-T against a real HTTP timestamp server (pyHanko's DummyTimeStamper behind http.server) ---


@pytest.fixture(scope="module")
def tsa() -> Iterator[tuple[str, bytes]]:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = build_certificate({"common_name": "Test TSA Root"}, ca_key, None, ca_key, ca=True)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_cert = build_certificate(
        {"common_name": "Test TSA"},
        tsa_key,
        root,
        ca_key,
        key_usage=["digital_signature"],
        ext_key_usage=["time_stamping"],
    )
    pkcs8 = tsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa_cert),
        tsa_key=keys.PrivateKeyInfo.load(pkcs8),
        certs_to_embed=[asn1_x509.Certificate.load(root)],
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", root
    server.shutdown()
    server.server_close()
