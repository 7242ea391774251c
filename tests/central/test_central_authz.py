"""Art. 12 authorizations: the authorized certificate enters the seal's use list while authorized."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from formats.ses import parse_seal, signer_in_seal, verify_maker
from tests.support.central import b64, http, make_cert, register_seal


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


def test_an_ended_authorization_is_enforced_although_the_old_seal_still_lists_the_certificate(central):
    """Withdrawing re-makes the seal, but the revision made during the authorization still has the deputy's
    certificate in its certList (maker signature fine, signer-in-seal passes, the esID stays active). The
    platform's answer must stop the deputy: the agent refuses to stamp, verification fails platform_status."""
    import asyncio
    import io
    import time

    from agent.platform import PlatformClient
    from formats.errors import SealBridgeError
    from formats.keysigner import KeySigner
    from stamping.options import StampOptions, VerifyOptions
    from stamping.pdf import stamp, verify
    from stamping.placement import At
    from tests.support.pdf_maker import contract_pdf

    url, token, _ = central
    _, holder = make_cert("法定代表人")
    deputy_key, deputy = make_cert("被授权人", days=100)
    _, stranger = make_cert("陌生人")
    esid = register_seal(url, token, holder)["esID"]
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    code, auth = http(
        "POST",
        f"{url}/api/v1/admin/seals/{esid}/authorizations",
        {"cert": b64(deputy), "grantee": "李四", "not_after": until},
        token,
    )
    assert code == 201, auth
    old_seal = base64.b64decode(_seals_for(url, deputy)[0]["seal_der"])
    during = datetime.now(UTC) + timedelta(seconds=1)

    def stamped(at: datetime) -> bytes:
        out = io.BytesIO()
        opts = StampOptions(signed_at=at)
        stamp(contract_pdf(1), out, KeySigner(deputy_key, deputy), old_seal, [At(1, 50, 50)], opts)
        return out.getvalue()

    def client_call(name: str, *args):  # type: ignore[no-untyped-def]
        async def go():  # type: ignore[no-untyped-def]
            async with PlatformClient(url) as client:
                return await getattr(client, name)(*args)

        return asyncio.run(go())

    def refusal(cert: bytes) -> str:
        with pytest.raises(SealBridgeError) as exc:
            client_call("require_active", esid, cert)
        return exc.value.code

    assert client_call("require_active", esid, holder).status == "active"
    assert client_call("require_active", esid, deputy).status == "active"
    assert refusal(stranger) == "SEAL_NOT_FOR_SIGNER"

    time.sleep(2.1)
    code, _ = http("POST", f"{url}/api/v1/admin/authorizations/{auth['id']}/withdraw", {}, token)
    assert code == 200
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert signer_in_seal(parse_seal(old_seal), deputy)  # the old revision still names the deputy

    assert refusal(deputy) == "SEAL_NOT_FOR_SIGNER"
    assert client_call("require_active", esid, holder).status == "active"
    # the agent's verifier (client lookup) and the platform's verify endpoint agree
    ok = client_call("status_check", esid, during, deputy)
    assert ok.status == "ok", ok
    late = client_call("status_check", esid, after, deputy)
    assert late.status == "failed" and "authorization" in late.detail, late

    code, report = http("POST", f"{url}/api/v1/verify", raw=stamped(during))
    assert code == 200 and report["seals"][0]["checks"]["platform_status"]["status"] == "ok", report
    code, report = http("POST", f"{url}/api/v1/verify", raw=stamped(after))
    check = report["seals"][0]["checks"]["platform_status"]
    assert code == 200 and check["status"] == "failed" and "authorization" in check["detail"], check
    assert report["verdict"] == "invalid"
    assert verify(stamped(after), VerifyOptions()).seals[0].checks["signer_in_seal"].status == "ok"
