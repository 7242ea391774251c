"""Seal lifecycle over real HTTP against a real `sealbridge central` (SQLite file and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from formats.ses import parse_seal, verify_maker
from tests.support.central import b64, http, imprint_png, make_cert, register_seal


def test_full_lifecycle(central):
    url, token, _ = central
    _, cert = make_cert("王五")
    seal = register_seal(url, token, cert, esid="LIFECYCLE-0001")
    esid = seal["esID"]
    assert seal["status"] == "active" and seal["revision"] == 1

    # The seal is a V4 SESeal signed by the platform maker key, carrying the filed imprint bytes (同章同模).
    parsed = parse_seal(__import__("base64").b64decode(seal["seal_der"]))
    assert parsed.version == 4 and parsed.esid == esid
    assert verify_maker(parsed)[0] == "ok"
    assert parsed.picture.data == imprint_png()
    assert parsed.certs == [cert]

    def status() -> dict:
        code, body = http("GET", f"{url}/api/v1/seals/{esid}/status")
        assert code == 200, body
        return body["response"]

    assert status()["status"] == "active"
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/suspend", {"reason": "印章遗失"}, token)
    assert code == 200 and body["status"] == "suspended"
    assert status()["status"] == "suspended"
    # suspend twice: a conflict, not a silent no-op
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/suspend", {}, token)
    assert code == 409 and body["error"]["code"] == "CONFLICT"
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/resume", {"reason": "找回"}, token)
    assert code == 200 and body["status"] == "active"

    # Art. 22: renewal makes a new seal with a new esID and cancels the old one.
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/renew", {"reason": "法定代表人变更"}, token)
    assert code == 201, body
    new_esid = body["new"]["esID"]
    assert new_esid != esid and body["new"]["replaces"] == esid
    assert body["old"]["status"] == "revoked" and body["old"]["replaced_by"] == new_esid
    old = status()
    assert old["status"] == "revoked" and old["replaced_by"] == new_esid
    assert [h["status"] for h in old["history"]] == ["active", "suspended", "active", "revoked"]
    assert old["history"][1]["reason"] == "印章遗失"

    # revoked is final
    for action in ("resume", "suspend", "revoke"):
        code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/{action}", {}, token)
        assert code == 409, (action, body)
    code, body = http("POST", f"{url}/api/v1/admin/seals/{esid}/renew", {}, token)
    assert code == 409

    code, body = http("POST", f"{url}/api/v1/admin/seals/{new_esid}/revoke", {"reason": "企业注销"}, token)
    assert code == 200 and body["status"] == "revoked"

    code, detail = http("GET", f"{url}/api/v1/admin/seals/{esid}", token=token)
    assert code == 200 and len(detail["history"]) == 4
    code, listing = http("GET", f"{url}/api/v1/admin/seals", token=token)
    assert {esid, new_esid} <= {s["esID"] for s in listing["seals"]}

    code, audit = http("GET", f"{url}/api/v1/admin/audit?subject={esid}", token=token)
    actions = [r["action"] for r in reversed(audit["records"])]
    assert actions == ["seal.make", "seal.suspend", "seal.resume", "seal.revoke"]


def test_expired_is_derived(central):
    url, token, _ = central
    _, cert = make_cert("赵六")
    seal = register_seal(url, token, cert)
    end = (datetime.now(UTC) + timedelta(seconds=1.5)).replace(microsecond=0) + timedelta(seconds=1)
    code, body = http(
        "POST", f"{url}/api/v1/admin/seals/{seal['esID']}/renew", {"valid_end": end.isoformat()}, token
    )
    assert code == 201, body
    new = body["new"]["esID"]
    import time

    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.3)
    code, body = http("GET", f"{url}/api/v1/seals/{new}/status")
    assert body["response"]["status"] == "expired"
    # an expired seal cannot be suspended, but can still be cancelled
    code, body = http("POST", f"{url}/api/v1/admin/seals/{new}/suspend", {}, token)
    assert code == 409
    code, body = http("POST", f"{url}/api/v1/admin/seals/{new}/revoke", {}, token)
    assert code == 200 and body["status"] == "revoked"


def test_validation_errors(central):
    url, token, _ = central
    _, cert = make_cert("钱七", days=30)
    code, body = http(
        "POST", f"{url}/api/v1/admin/companies", {"uscc": "91350100M000100Y44", "name": "x"}, token
    )
    assert code == 400 and "check character" in body["error"]["detail"]
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/companies",
        {"uscc": "91350100M000100Y43", "name": "x", "extra": 1},
        token,
    )
    assert code == 400 and "unknown keys" in body["error"]["detail"]
    seal = register_seal(url, token, cert, uscc="911101085923662400")
    company = seal["company_uscc"]
    code, imp = http("GET", f"{url}/api/v1/admin/companies/{company}", token=token)
    imprint_id = imp["imprints"][0]["id"]
    base = {
        "company": company,
        "imprint_id": imprint_id,
        "kind": "contract",
        "name": "n",
        "holder": "h",
        "certs": [b64(cert)],
    }
    too_long = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    for patch, needle in (
        ({"valid_end": too_long}, "notAfter"),  # Art. 17: no longer than the certificate
        ({"kind": "personal", "name": "甲", "holder": "乙"}, "Art. 14"),
        ({"kind": "no-such-kind"}, "unknown seal kind"),
        ({"certs": ["bm90IGEgY2VydA=="]}, "certificate"),
        ({"certs": []}, "certificates"),
        ({"esID": "bad id!"}, "esID"),
        ({"esID": seal["esID"]}, "already in use"),
    ):
        code, body = http("POST", f"{url}/api/v1/admin/seals", dict(base, **patch), token)
        assert code in (400, 409), (patch, body)
        assert needle in body["error"]["detail"], (patch, body)
    code, body = http(
        "POST",
        f"{url}/api/v1/admin/companies/{company}/imprints",
        {"name": "x", "picture_type": "png", "picture": b64(b"GIF89a...."), "width_mm": 40, "height_mm": 40},
        token,
    )
    assert code == 400 and "not PNG" in body["error"]["detail"]
    code, body = http("GET", f"{url}/api/v1/seals/NOPE-0000/status")
    assert code == 404 and body["error"]["code"] == "SEAL_NOT_FOUND"
    code, body = http("GET", f"{url}/api/v1/seals/{seal['esID']}/status?at=yesterday")
    assert code == 400 and body["error"]["code"] == "BAD_REQUEST"
    code, body = http("POST", f"{url}/api/v1/status", raw=b"{not json")
    assert code == 400
