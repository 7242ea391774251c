"""An administrator's error path end to end: a seal revoked at the central platform. Revoked while the window
is open, the clerk learns it on approving (right PIN, nothing signed), the request stays open and the clerk
stamps with another seal; in the next window the chooser shows the revoked seal disabled with its reason before
any PIN is typed."""

from __future__ import annotations

import re

import pytest

from tests.support.central import http
from tests.support.e2e_browser import Browser, click_to_close, save_artifact

pytestmark = pytest.mark.browser

HSM_PIN = "123456"  # tests/pkcs11/p11_helpers.PIN
STAMP = 'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])'


def test_a_seal_revoked_meanwhile_is_refused_and_another_seal_stamps(
    browser: Browser, portal_page, documents
):
    env = browser.env
    window = browser.stamp_and_wait_for_window(portal_page, "revoked", STAMP)
    window.click("button.lang[data-lang=zh_CN]")
    assert (
        window.get_attribute(f'#seal option[value="{env.hsm.esid}"]', "disabled") is None
    )  # active when listed
    status, body = http(
        "POST",
        f"{env.central_url}/api/v1/admin/seals/{env.hsm.esid}/revoke",
        {"reason": "印章已注销"},
        env.admin_token,
    )
    assert status == 200, body
    window.select_option("#seal", env.hsm.esid)
    window.fill("#pin", HSM_PIN)
    window.click("#approve")
    window.locator("#message").filter(has_text=re.compile("SEAL_REVOKED")).wait_for(timeout=30_000)
    assert "请选择其他印章" in window.text_content("#message")
    # Still open: the revoked seal is out, the other one chosen, the button usable again.
    assert window.get_attribute("body", "data-state") == "ready"
    assert window.get_attribute(f'#seal option[value="{env.hsm.esid}"]', "disabled") is not None
    assert window.input_value("#seal") == env.soft_esid
    save_artifact("approval-window-seal-refused.png", window.screenshot(full_page=True))
    window.fill("#pin", env.pki.pin)
    window.click("#approve")
    result = browser.job(portal_page, "revoked")
    assert result["ok"], result

    stamps = [r for r in env.agent.audit() if r["event"] in ("stamp", "approval")]
    assert any(r["result"] == "SEAL_REVOKED" and r["seal_id"] == env.hsm.esid for r in stamps)
    assert not [
        r for r in stamps if r["event"] == "stamp" and r["result"] == "OK" and r["seal_id"] == env.hsm.esid
    ]
    assert any(
        r["event"] == "stamp" and r["result"] == "OK" and r["seal_id"] == env.soft_esid for r in stamps
    )

    # The next request: the chooser says it before the PIN.
    window = browser.stamp_and_wait_for_window(portal_page, "next", STAMP)
    window.click("button.lang[data-lang=zh_CN]")
    option = window.locator(f'#seal option[value="{env.hsm.esid}"]')
    assert option.get_attribute("disabled") is not None and option.get_attribute("data-state") == "revoked"
    assert "已注销" in option.text_content()
    said = window.locator(f'#unusable li[data-seal="{env.hsm.esid}"]')
    assert said.get_attribute("data-state") == "revoked" and "已注销" in said.text_content()
    assert window.input_value("#seal") == env.soft_esid
    save_artifact("approval-window-seal-revoked.png", window.screenshot(full_page=True))
    click_to_close(window)
    result = browser.job(portal_page, "next")
    assert not result["ok"] and result["code"] == "USER_CANCELLED", result
