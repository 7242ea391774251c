"""Art. 28: POST /api/v1/verify — a document stamped with a platform seal, then the seal revoked."""

from __future__ import annotations

import base64
import io
import time
from datetime import UTC, datetime

from tests.support.central import http, make_cert, register_seal


def _stamp_ofd(samples, key, cert: bytes, seal_der: bytes) -> bytes:
    from formats.keysigner import KeySigner
    from stamping.ofd import stamp
    from stamping.options import StampOptions
    from stamping.placement import At

    data = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    out = io.BytesIO()
    stamp(
        data,
        out,
        KeySigner(key, cert),
        seal_der,
        [At(page=1, x=60, y=60)],
        StampOptions(signed_at=datetime.now(UTC)),
    )
    return out.getvalue()


def test_verify_endpoint_reports_status_now_and_at_signing(central, samples):
    url, token, _ = central
    key, cert = make_cert("签章人")
    seal = register_seal(url, token, cert)
    stamped = _stamp_ofd(samples, key, cert, base64.b64decode(seal["seal_der"]))
    code, report = http("POST", f"{url}/api/v1/verify", raw=stamped)
    assert code == 200, report
    assert report["format"] == "ofd" and len(report["seals"]) == 1
    first = report["seals"][0]
    assert first["seal"]["esID"] == seal["esID"]
    assert first["checks"]["platform_status"]["status"] == "ok", first["checks"]["platform_status"]
    assert first["checks"]["integrity"]["status"] == "ok"

    time.sleep(1.1)  # OFD signing times have whole seconds: revoke clearly after the signature
    http("POST", f"{url}/api/v1/admin/seals/{seal['esID']}/revoke", {"reason": "注销"}, token)
    code, report = http("POST", f"{url}/api/v1/verify", raw=stamped)
    check = report["seals"][0]["checks"]["platform_status"]
    assert check["status"] == "ok" and check["reasons"][0]["code"] == "PLATFORM_ACTIVE_AT_SIGNING", check
    assert check["reasons"][0]["now_status"] == "revoked", check
    assert report["seals"][0]["warnings"][0]["code"] == "SEAL_REVOKED_AFTER_SIGNING", report["seals"][0]
    # No trust anchors at this platform: not fully confirmed, and the revocation is still called out.
    assert report["headline"]["code"] == "HEADLINE_INDETERMINATE", report["headline"]


def test_verify_endpoint_refuses_other_bytes(central):
    url, _, _ = central
    code, body = http("POST", f"{url}/api/v1/verify", raw=b"hello, not a document")
    assert code == 415 and body["error"]["code"] == "DOC_UNSUPPORTED"
    code, body = http("POST", f"{url}/api/v1/verify", raw=b"")
    assert code == 400


def test_verify_endpoint_on_a_foreign_sample(central, samples):
    """A real third-party signed OFD: verified, and the platform says it did not make that seal."""
    url, _, _ = central
    code, report = http(
        "POST", f"{url}/api/v1/verify", raw=(samples / "ofd" / "gomain-invoice-v4.ofd").read_bytes()
    )
    assert code == 200 and report["format"] == "ofd" and report["seals"], report
    check = report["seals"][0]["checks"]["platform_status"]
    assert check["status"] == "unknown" and check["reasons"][0]["code"] == "PLATFORM_SEAL_NOT_REGISTERED", (
        check
    )


def test_verify_endpoint_error_paths(central):
    """Damaged documents and oversized bodies answer a stable code, never a 500."""
    url, _, _ = central
    for damaged in (b"%PDF-1.7\n1 0 obj\n<<\n", b"PK\x03\x04" + bytes(200)):
        code, body = http("POST", f"{url}/api/v1/verify", raw=damaged)
        assert code == 400 and body["error"]["code"] == "DOC_MALFORMED", (damaged[:8], code, body)
    code, body = http("POST", f"{url}/api/v1/verify", raw=b"%PDF-" + bytes(64 * 1024 * 1024))
    assert code == 413 and body["error"]["code"] == "DOC_TOO_LARGE", (code, body)


def test_usage_endpoint_error_paths(central):
    url, _, _ = central
    good = {"id": "rec-0000001", "esID": "ES-1", "action": "stamp", "at": "2026-01-01T00:00:00Z"}
    for body in (
        [],
        {"records": []},
        {"records": "x"},
        {"records": [dict(good, id="../../x")]},
        {"records": [dict(good, action="delete")]},
        {"records": [dict(good, at="yesterday")]},
        {"records": [dict(good, extra="x")]},
        {"records": [dict(good, doc_sm3_after="abc")]},
        {"records": [good] * 101},
    ):
        code, answer = http("POST", f"{url}/api/v1/usage", body)
        assert code == 400 and answer["error"]["code"] == "BAD_REQUEST", (body, code, answer)
    code, answer = http("POST", f"{url}/api/v1/usage", raw=b"{not json")
    assert code == 400 and answer["error"]["code"] == "BAD_REQUEST"
