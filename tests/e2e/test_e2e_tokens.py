"""Journey 1's hardware side: a SoftHSM2 token pulled while the approval window is open. The agent's hot-plug
monitor sees it, the window says so and stops offering its seal, and the portal's on('token') hears it;
plugged back in, the seal returns. Only pages on allowed sites hear about tokens."""

from __future__ import annotations

import pytest

from tests.support.e2e_browser import Browser, click_to_close, save_artifact, seal_options, wait_for

pytestmark = pytest.mark.browser


def test_token_removed_while_the_window_is_open(browser: Browser, portal_page, documents):
    env = browser.env
    stranger = browser.open_portal(env.stranger.origin)
    browser.run(stranger, "SealBridge.detect()")  # a listening page on a site not allowed
    window = browser.stamp_and_wait_for_window(
        portal_page,
        "hotplug",
        'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])',
    )
    try:
        assert env.hsm.esid in seal_options(window)
        # Chosen when usable (test_e2e_revoked may have revoked it: then it is listed, disabled).
        if window.get_attribute(f'#seal option[value="{env.hsm.esid}"]', "disabled") is None:
            window.select_option("#seal", env.hsm.esid)

        env.hsm.remove()
        window.wait_for_selector("body[data-token=removed]", timeout=20_000)
        message = window.text_content("#message")
        assert env.hsm.label in message and ("已拔出" in message or "removed" in message), message
        wait_for(lambda: env.hsm.esid not in seal_options(window), what="the HSM seal to leave the chooser")
        assert env.soft_esid in seal_options(window)  # the soft token is still there
        save_artifact("approval-window-token-removed.png", window.screenshot(full_page=True))
        events = wait_for(
            lambda: portal_page.evaluate("window.tokenEvents"), what="on('token') on the portal"
        )
        assert {"type": "removed", "token": f"pkcs11:{env.hsm.label}", "label": env.hsm.label} in events, (
            events
        )

        env.hsm.insert()
        window.wait_for_selector("body[data-token=inserted]", timeout=20_000)
        wait_for(lambda: env.hsm.esid in seal_options(window), what="the HSM seal to come back")
        events = portal_page.evaluate("window.tokenEvents")
        assert events[-1]["type"] == "inserted" and events[-1]["label"] == env.hsm.label, events
        assert stranger.evaluate("window.tokenEvents") == []  # not every site hears about tokens
    finally:
        if not window.is_closed():
            with window.expect_event("close", timeout=10_000):
                click_to_close(window)
        stranger.close()
    assert browser.job(portal_page, "hotplug")["code"] == "USER_CANCELLED"
