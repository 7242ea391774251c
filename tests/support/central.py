"""The central platform for tests: a running process with an admin token (devkit.central_process), and small
synchronous HTTP helpers to file companies, imprints and seals.

`register_seal(url, token, cert_der)` files a company + imprint and makes a seal bound to that certificate.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from devkit.central_process import REPO, SEALBRIDGE, CentralHandle, create_admin_token, start_central
from devkit.material import imprint_png, make_cert

__all__ = [
    "REPO",
    "SEALBRIDGE",
    "TEST_USCC",
    "CentralHandle",
    "b64",
    "create_admin_token",
    "http",
    "imprint_png",
    "make_cert",
    "register_seal",
    "start_central",
]

TEST_USCC = "91350100M000100Y43"


# -- small synchronous HTTP helpers (tests and fixtures; the async client is agent.platform) --------
def http(
    method: str, url: str, body: Any = None, token: str | None = None, raw: bytes | None = None
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def register_seal(
    url: str,
    token: str,
    cert_der: bytes,
    *,
    uscc: str = TEST_USCC,
    kind: str = "contract",
    name: str = "测试有限公司合同专用章",
    holder: str = "张三",
    esid: str | None = None,
) -> dict[str, Any]:
    """Company (reused if present) + imprint + seal bound to cert_der; returns the seal JSON (seal_der base64)."""
    status, company = http(
        "POST", f"{url}/api/v1/admin/companies", {"uscc": uscc, "name": "测试有限公司"}, token
    )
    if status == 409:
        status, company = http("GET", f"{url}/api/v1/admin/companies/{uscc}", token=token)
    assert status in (200, 201), company
    status, imprint = http(
        "POST",
        f"{url}/api/v1/admin/companies/{company['id']}/imprints",
        {"name": name, "picture_type": "png", "picture": b64(imprint_png()), "width_mm": 40, "height_mm": 40},
        token,
    )
    assert status == 201, imprint
    body = {
        "company": uscc,
        "imprint_id": imprint["id"],
        "kind": kind,
        "name": name,
        "holder": holder,
        "certs": [b64(cert_der)],
    }
    if esid:
        body["esID"] = esid
    status, seal = http("POST", f"{url}/api/v1/admin/seals", body, token)
    assert status == 201, seal
    return seal
