"""Art. 12 authorizations: the authorized certificate enters the seal's use list while authorized."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from formats.ses import parse_seal, signer_in_seal, verify_maker
from tests.central.helpers import b64, http, make_cert, register_seal


def _seals_for(url: str, cert: bytes) -> list[dict]:
    code, body = http("GET", f"{url}/api/v1/seals?cert={hashlib.sha256(cert).hexdigest()}")
    assert code == 200, body
    return body["seals"]


def test_authorization_grant_and_withdraw(central):
    url, token, _ = central
    _, holder = make_cert("法定代表人")
    _, deputy = make_cert("被授权人", days=100)
    seal = register_seal(url, token, holder)
    esid = seal["esID"]
    assert _seals_for(url, deputy) == []
    assert [s["role"] for s in _seals_for(url, holder)] == ["holder"]

    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    code, auth = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(deputy), "grantee": "李四", "not_after": until},
        token,
    )
    assert code == 201 and auth["active"], auth

    usable = _seals_for(url, deputy)
    assert [s["esID"] for s in usable] == [esid]
    assert usable[0]["role"] == "authorized" and usable[0]["revision"] == 2
    der = base64.b64decode(usable[0]["seal_der"])
    parsed = parse_seal(der)
    assert verify_maker(parsed)[0] == "ok"
    assert signer_in_seal(parsed, deputy) and signer_in_seal(parsed, holder)

    code, env = http("GET", f"{url}/api/v1/seals/{esid}/status")
    assert [a["cert_sha256"] for a in env["response"]["authorizations"]] == [
        hashlib.sha256(deputy).hexdigest()
    ]

    # the same certificate twice, past the seal's validity or the certificate's: refused
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(deputy), "grantee": "李四", "not_after": until},
        token,
    )
    assert code == 409
    _, other = make_cert("其他人", days=10)
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(other), "grantee": "王", "not_after": until},
        token,
    )
    assert code == 400 and "notAfter" in body["error"]["detail"]
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(holder), "grantee": "自己", "not_after": until},
        token,
    )
    assert code == 409

    code, body = http("POST", f"{url}/api/v1/admin/authorizations/{auth['id']}/withdraw", {}, token)
    assert code == 200 and body["revoked_at"] and not body["active"]
    assert _seals_for(url, deputy) == []
    code, detail = http("GET", f"{url}/api/v1/admin/seals/{esid}", token=token)
    assert detail["revision"] == 3
    assert not signer_in_seal(parse_seal(base64.b64decode(detail["seal_der"])), deputy)
    code, body = http("POST", f"{url}/api/v1/admin/authorizations/{auth['id']}/withdraw", {}, token)
    assert code == 409

    # a suspended seal cannot be newly authorized
    http("POST", f"{url}/api/v1/admin/seals/{esid}/suspend", {}, token)
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(deputy), "grantee": "李四", "not_after": until},
        token,
    )
    assert code == 409
    code, listing = http("GET", f"{url}/api/v1/admin/seals/{esid}/authorizations", token=token)
    assert len(listing["authorizations"]) == 1


def test_bad_cert_query(central):
    url, _, _ = central
    code, body = http("GET", f"{url}/api/v1/seals?cert=xyz")
    assert code == 400 and body["error"]["code"] == "BAD_REQUEST"
