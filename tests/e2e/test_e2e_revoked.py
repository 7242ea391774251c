"""An administrator's error path end to end: the seal was revoked at the central platform. The user approves
with the right PIN; the agent checks the seal's status before signing and refuses. The window stays open to
say why (and offers only to close), the page gets SEAL_REVOKED, nothing is signed."""

from __future__ import annotations

import re

import pytest

from tests.support.central import http
from tests.support.e2e_browser import Browser, save_artifact

pytestmark = pytest.mark.browser

HSM_PIN = "123456"  # tests/pkcs11/p11_helpers.PIN


def test_a_revoked_seal_is_refused_and_the_window_says_why(browser: Browser, portal_page, documents):
    env = browser.env
    status, body = http(
        "POST",
        f"{env.central_url}/api/v1/admin/seals/{env.hsm.esid}/revoke",
        {"reason": "印章已注销"},
        env.admin_token,
    )
    assert status == 200, body
    window = browser.stamp_and_wait_for_window(
        portal_page,
        "revoked",
        'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])',
    )
    window.click("button.lang[data-lang=zh_CN]")
    window.select_option("#seal", env.hsm.esid)
    window.fill("#pin", HSM_PIN)
    window.click("#approve")
    window.wait_for_selector("body[data-state=ended]", timeout=30_000)
    window.locator("#message").filter(has_text=re.compile("SEAL_REVOKED")).wait_for(timeout=10_000)
    assert window.is_disabled("#approve") and window.text_content("#cancel") == "关闭"
    save_artifact("approval-window-seal-revoked.png", window.screenshot(full_page=True))

    result = browser.job(portal_page, "revoked")
    assert not result["ok"] and result["code"] == "SEAL_REVOKED", result
    assert not [
        r
        for r in env.agent.audit()
        if r["event"] == "stamp" and r["result"] == "OK" and r["seal_id"] == env.hsm.esid
    ]
    with window.expect_event("close", timeout=10_000):
        window.click("#cancel")
