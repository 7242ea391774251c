"""Report v2 per state (issue 15), with a real platform over HTTP: each state's verdict, ETSI EN 319 102-1
indication and sub-indication, headline and warnings, and the Chinese and English sentences a person reads."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from agent.platform import make_status_lookup
from stamping.messages import render_reason
from stamping.ofd import verify
from stamping.options import VerifyOptions
from tests.support.central import http, make_cert, register_seal


def _stamp_ofd(samples, key, cert: bytes, seal_der: bytes, at: datetime | None = None) -> bytes:
    from formats.keysigner import KeySigner
    from stamping.ofd import stamp
    from stamping.options import StampOptions
    from stamping.placement import At

    out = io.BytesIO()
    data = (samples / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    options = StampOptions(signed_at=at or datetime.now(UTC))
    stamp(data, out, KeySigner(key, cert), seal_der, [At(page=1, x=60, y=60)], options)
    return out.getvalue()


def _texts(reason: dict) -> tuple[str, str]:
    return render_reason(reason, "zh"), render_reason(reason, "en")


@pytest.fixture
def sealed(central, samples):
    """(url, token, signer certificate, seal JSON, stamped OFD) with a fresh platform seal."""
    url, token, _ = central
    key, cert = make_cert("李四")
    seal = register_seal(url, token, cert)
    stamped = _stamp_ofd(samples, key, cert, base64.b64decode(seal["seal_der"]))
    return url, token, cert, seal, stamped


def _verify(data: bytes, url: str | None, anchors: list[bytes]) -> dict:
    lookup = make_status_lookup(url, timeout=3) if url else None
    try:
        options = VerifyOptions(trust_anchors=anchors, status_lookup=lookup, document_name="合同.ofd")
        return verify(data, options).to_dict()
    finally:
        if lookup is not None:
            lookup.close()


def test_valid(sealed):
    url, _, cert, seal, stamped = sealed
    report = _verify(stamped, url, [cert])
    s = report["seals"][0]
    assert (report["verdict"], s["indication"], s["sub_indication"]) == ("valid", "TOTAL_PASSED", None)
    assert _texts(report["headline"]) == ("有效", "Valid")
    # No timestamp: the time is the signer's claim, said once, in its own line.
    assert [w["code"] for w in s["warnings"]] == ["SIGNING_TIME_FROM_SIGNER_ONLY"]
    assert s["signing_time_source"] == "signer" and s["best_signature_time"] == report["validation_time"]
    assert s["signer"]["name"] == "李四" and s["signer"]["organisation"] == "测试有限公司"
    assert s["seal"]["esID"] == seal["esID"] and s["seal"]["type_name"] == {
        "zh": "合同专用章",
        "en": "Contract seal",
    }
    assert report["document"]["name"] == "合同.ofd" and len(report["document"]["sm3"]) == 64
    assert report["policy"]["trust_anchors"][0]["name"] == "李四"


def test_revoked_after_signing_is_valid_with_a_warning(sealed):
    url, token, cert, seal, stamped = sealed
    code, _ = http("POST", f"{url}/api/v1/admin/seals/{seal['esID']}/revoke", {"reason": "注销"}, token)
    assert code == 200
    report = _verify(stamped, url, [cert])
    s = report["seals"][0]
    assert (report["verdict"], s["indication"]) == ("valid", "TOTAL_PASSED")
    assert _texts(report["headline"]) == (
        "有效，但印章现已注销",
        "Valid, but the seal has since been revoked",
    )
    warning = next(w for w in s["warnings"] if w["code"] == "SEAL_REVOKED_AFTER_SIGNING")
    zh, en = _texts(warning)
    assert zh.startswith("印章已于 ") and zh.endswith("注销（盖章时有效）") and "(UTC+8)" in zh, zh
    assert en.startswith("The seal was revoked on ") and "(UTC+8)" in en, en


def test_revoked_before_signing_is_invalid(central, samples):
    url, token, _ = central
    key, cert = make_cert("王五")
    seal = register_seal(url, token, cert)
    code, _ = http("POST", f"{url}/api/v1/admin/seals/{seal['esID']}/revoke", {"reason": "注销"}, token)
    assert code == 200
    # OFD signing times have whole seconds: a claim two seconds on is clearly after the revocation.
    at = datetime.now(UTC) + timedelta(seconds=2)
    stamped = _stamp_ofd(samples, key, cert, base64.b64decode(seal["seal_der"]), at)
    report = _verify(stamped, url, [cert])
    s = report["seals"][0]
    assert (report["verdict"], s["indication"], s["sub_indication"]) == ("invalid", "TOTAL_FAILED", "REVOKED")
    assert _texts(report["headline"]) == ("印章或证书无效", "The seal or certificate is not valid")
    zh, en = _texts(s["checks"]["platform_status"]["reasons"][0])
    assert "时印章状态为已注销" in zh and "the seal was revoked" in en, (zh, en)


def test_platform_unreachable_is_indeterminate_try_later(sealed):
    _, _, cert, _, stamped = sealed
    report = _verify(stamped, "http://127.0.0.1:9", [cert])
    s = report["seals"][0]
    assert (report["verdict"], s["indication"], s["sub_indication"]) == (
        "indeterminate",
        "INDETERMINATE",
        "TRY_LATER",
    )
    zh, en = _texts(report["headline"])
    assert zh.startswith("无法完全确认（暂时无法连接印章平台") and zh.endswith("请稍后再试）"), zh
    assert en.startswith("Cannot be fully confirmed (The seal platform cannot be reached"), en


def test_unknown_certificate_chain_is_indeterminate(sealed):
    url, _, _, _, stamped = sealed
    _, other = make_cert("别的根证书")
    report = _verify(stamped, url, [other])
    s = report["seals"][0]
    assert (s["indication"], s["sub_indication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    zh, en = _texts(s["checks"]["certificate"]["reasons"][0])
    assert zh == "证书签发者“李四”不在信任列表中", zh
    assert en == "The certificate issuer \u201c李四\u201d is not trusted here", en


def test_ofd_changed_after_sealing(sealed):
    url, _, cert, _, stamped = sealed
    src = zipfile.ZipFile(io.BytesIO(stamped))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("Content.xml"):
                data = data.replace(
                    b"</ofd:Layer>", b"<ofd:TextObject ID='999' Boundary='0 0 10 10'/></ofd:Layer>", 1
                )
            dst.writestr(info, data)
    report = _verify(out.getvalue(), url, [cert])
    s = report["seals"][0]
    assert (report["verdict"], s["indication"], s["sub_indication"]) == (
        "invalid",
        "TOTAL_FAILED",
        "HASH_FAILURE",
    )
    assert _texts(report["headline"]) == (
        "文档在盖章后被修改",
        "The document was changed after it was sealed",
    )
    bad = s["checks"]["integrity"]["reasons"][0]
    assert bad["code"] == "REF_DIGEST_MISMATCH" and bad["file"].endswith("Content.xml"), bad
    zh, en = _texts(bad)
    assert (
        zh == f"文件 {bad['file']} 在盖章后被改动"
        and en == f"The file {bad['file']} was changed after sealing"
    )


def test_seal_expired_at_signing(samples):
    """ofdrw signed in 2026 with a seal (and certificate) that ended in 2022."""
    report = _verify((samples / "ofd" / "ofdrw-v4.ofd").read_bytes(), None, [])
    s = report["seals"][0]
    assert s["checks"]["seal"]["reasons"][0]["code"] == "SEAL_EXPIRED_AT_SIGNING"
    assert (s["indication"], s["sub_indication"]) == ("TOTAL_FAILED", "EXPIRED")
    zh, en = _texts(s["checks"]["seal"]["reasons"][0])
    assert (
        zh.startswith("盖章时间 2026-") and "时印章已过期（有效期至 2022-" in zh and zh.endswith("(UTC+8)）")
    ), zh
    assert en.startswith("When used at 2026-") and "the seal had expired" in en, en
    assert datetime.fromisoformat(report["validation_time"]) <= datetime.now(UTC)
