"""The agent restarts (update, crash, user quits and starts it again): the extension notices, pages get a clear
answer meanwhile, and it reconnects by itself — re-pairing through native messaging — without a browser
restart. The test stops the shared agent, so it leaves it running and connected again whatever happens: it
may run in any position."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.e2e_browser import Browser

pytestmark = pytest.mark.browser


def agent_connected(browser: Browser, page: Any, connected: bool, within: float = 30) -> dict:
    """Ask the page's SDK until the extension reports the agent (dis)connected; its last answer."""
    deadline = time.monotonic() + within
    while True:
        state = browser.run(page, "SealBridge.detect()")
        if state["ok"] and state["value"]["agent"]["connected"] is connected:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def test_the_extension_reconnects_after_the_agent_restarts(browser: Browser, portal_page):
    env = browser.env
    agent_connected(browser, portal_page, True)
    env.agent.stop()
    try:
        agent_connected(browser, portal_page, False)
        listed = browser.run(portal_page, "SealBridge.listSeals()")
        assert not listed["ok"] and listed["code"] == "AGENT_UNAVAILABLE", listed
    finally:
        env.agent.start()  # the shared agent is back for whatever test runs next
    agent_connected(browser, portal_page, True)
    listed = browser.run(portal_page, "SealBridge.listSeals()")
    assert listed["ok"] and {s["id"] for s in listed["value"]} >= {env.soft_esid}, listed
