"""Admin bearer tokens (hashed at rest) and per-IP rate limiting of the public API."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.central import http, start_central


def test_admin_auth(central):
    url, token, handle = central
    for headers_token in (None, "sbadm_wrong", token + "x", "Basic abc"):
        code, body = http("GET", f"{url}/api/v1/admin/companies", token=headers_token)
        assert code == 401 and body["error"]["code"] == "UNAUTHENTICATED", headers_token
    code, body = http("GET", f"{url}/api/v1/admin/companies", token=token)
    assert code == 200
    # a token minted through the API works, and stops working once revoked
    code, minted = http("POST", f"{url}/api/v1/admin/tokens", {"name": "second"}, token)
    assert code == 201 and minted["token"].startswith("sbadm_")
    assert http("GET", f"{url}/api/v1/admin/tokens", token=minted["token"])[0] == 200
    code, _ = http("POST", f"{url}/api/v1/admin/tokens/{minted['id']}/revoke", {}, token)
    assert code == 200
    assert http("GET", f"{url}/api/v1/admin/tokens", token=minted["token"])[0] == 401


def test_tokens_are_hashed_at_rest(tmp_path):
    url, token, handle = start_central(tmp_path)
    try:
        assert http("GET", f"{url}/api/v1/admin/companies", token=token)[0] == 200
    finally:
        handle.stop()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "central").glob("central.db*"))
    assert token.encode() not in raw
    rows = (
        sqlite3.connect(tmp_path / "central" / "central.db")
        .execute("SELECT token_sha256 FROM admin_tokens")
        .fetchall()
    )
    import hashlib

    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),)]


@pytest.mark.parametrize("path", ["/api/v1/platform", "/api/v1/seals/ANY-0001/status"])
def test_rate_limit(tmp_path, path):
    url, token, handle = start_central(tmp_path, rate=0.5, burst=3)
    try:
        codes = [http("GET", url + path)[0] for _ in range(3)]
        assert 429 not in codes
        code, body = http("GET", url + path)
        assert code == 429 and body["error"]["code"] == "RATE_LIMITED"
        # admin calls are authenticated, not rate limited
        assert http("GET", f"{url}/api/v1/admin/companies", token=token)[0] == 200
        # failed admin logins drain the same bucket
        code, body = http("GET", f"{url}/api/v1/admin/companies", token="sbadm_guess")
        assert code == 429
    finally:
        handle.stop()


def test_admin_paths_spelled_differently_never_skip_authentication(central):
    """Encoded, doubled or dotted spellings of an admin path reach no admin handler without a token."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url, token, handle = central
    host = urlsplit(url)
    for path in (
        "/api/v1//admin/companies",
        "/api/v1/%61dmin/companies",
        "/api/v1/admin%2Fcompanies",
        "/api/v1/x/../admin/companies",
        "/api/v1/./admin/companies",
        "/API/v1/admin/companies",
        "/api/v1/admin/companies/",
        "/api/v1/admin/companies?x=/api/v1/platform",
        "//api/v1/admin/companies",
    ):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        try:
            conn.request("GET", path)  # sent byte for byte, no client-side normalisation
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        assert resp.status in (401, 404), (path, resp.status, body[:200])
        assert b"companies" not in body or b"error" in body, path
        if resp.status != 401:
            assert json.loads(body)["error"]["code"] in ("NOT_FOUND", "UNAUTHENTICATED")
