"""The agent restarts (update, crash, user quits and starts it again): the extension notices, pages get a clear
answer meanwhile, and it reconnects by itself — re-pairing through native messaging — without a browser
restart. Runs last: it stops the shared agent."""

from __future__ import annotations

import time

import pytest

from tests.support.e2e_browser import Browser

pytestmark = pytest.mark.browser


def test_the_extension_reconnects_after_the_agent_restarts(browser: Browser, portal_page):
    env = browser.env
    assert browser.run(portal_page, "SealBridge.detect()")["value"]["agent"]["connected"]
    env.agent.stop()
    time.sleep(0.5)
    down = browser.run(portal_page, "SealBridge.detect()")
    assert down["ok"] and down["value"]["agent"]["connected"] is False, down
    listed = browser.run(portal_page, "SealBridge.listSeals()")
    assert not listed["ok"] and listed["code"] == "AGENT_UNAVAILABLE", listed

    env.agent.start()
    deadline = time.monotonic() + 30
    while True:
        up = browser.run(portal_page, "SealBridge.detect()")
        if up["ok"] and up["value"]["agent"]["connected"]:
            break
        assert time.monotonic() < deadline, up
        time.sleep(0.5)
    listed = browser.run(portal_page, "SealBridge.listSeals()")
    assert listed["ok"] and {s["id"] for s in listed["value"]} >= {env.soft_esid}, listed
