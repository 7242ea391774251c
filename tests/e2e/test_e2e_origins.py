"""Who may reach the agent: a page never directly (Local Network Access stops its WebSocket, and the agent
would refuse its Origin anyway), and only sites allowed by both the extension and the agent through it."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.e2e_browser import Browser

pytestmark = pytest.mark.browser

PROBE = """new Promise((resolve) => {
  const ws = new WebSocket(%s);
  const done = (how) => { try { ws.close(); } catch {} ; resolve(how); };
  ws.onopen = () => done("open");
  ws.onerror = () => done("error");
  setTimeout(() => done("timeout"), 8000);
})"""


def refusals(log: str, origin: str) -> list[dict]:
    out = []
    for line in log.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("origin") == origin and rec.get("event") in ("refused", "session_open", "auth_refused"):
            out.append(rec)
    return out


def _forged_upgrade(port: int, origin: str) -> int:
    """A WebSocket upgrade with a web page's Origin, sent from here: the status the agent answers."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "GET",
            "/v1",
            headers={
                "Host": f"127.0.0.1:{port}",
                "Origin": origin,
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_portal_cannot_open_a_websocket_to_the_agent(browser: Browser, portal_page):
    env = browser.env
    url = f"ws://127.0.0.1:{env.agent.port}/v1"
    console: list[str] = []
    portal_page.on("console", lambda m: console.append(m.text))
    outcome = portal_page.evaluate(PROBE % json.dumps(url))
    assert outcome == "error", outcome
    assert any("ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS" in line for line in console), console
    time.sleep(0.5)
    # The agent never saw it: no refused upgrade, no session from the portal's origin.
    assert refusals(env.agent.log_text(), env.portal.origin) == []

    # Control: had the page's request reached the agent, the agent would have logged it (and refused it).
    control = "http://lna-control.example"
    assert _forged_upgrade(env.agent.port, control) == 403
    deadline = time.monotonic() + 5
    while not refusals(env.agent.log_text(), control) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refusals(env.agent.log_text(), control), "the agent logs refused upgrades"
    # ...while the extension on the same machine is connected through its own origin.
    assert browser.run(portal_page, "SealBridge.detect()")["value"]["agent"]["connected"]


def test_a_site_the_administrator_denies_gets_origin_not_allowed_and_no_window(browser: Browser, documents):
    """The user's old list allowed it, but the agent's administrator denies it: the extension learns that from
    the agent's hello and refuses at once — no prompt, no approval window."""
    env = browser.env
    portal = env.agent_denied
    page = browser.open_portal(portal.origin)
    try:
        before = len(browser.approval_windows()) + len(browser.site_prompts())
        result = browser.run(
            page, 'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 50, "y": 50}])'
        )
        assert not result["ok"] and result["code"] == "ORIGIN_NOT_ALLOWED", result
        listed = browser.run(page, "SealBridge.listSeals()")
        assert not listed["ok"] and listed["code"] == "ORIGIN_NOT_ALLOWED", listed
        time.sleep(1.0)
        assert len(browser.approval_windows()) + len(browser.site_prompts()) == before
        detected = browser.run(page, "SealBridge.detect()")["value"]
        assert detected["site"] == "denied" and detected["siteAllowed"] is False, detected
    finally:
        page.close()
