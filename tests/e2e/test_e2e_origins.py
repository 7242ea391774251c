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


def _no_new_window(browser: Browser, before: int) -> None:
    time.sleep(1.0)
    assert len(browser.approval_windows()) == before


@pytest.mark.parametrize("site", ["stranger", "agent_denied"])
def test_a_site_not_allowed_gets_origin_not_allowed_and_no_window(browser: Browser, documents, site):
    """stranger: not in the extension's list (the extension refuses; the agent is never asked);
    agent_denied: the user allowed it in the extension, but the agent's policy refuses plain http."""
    env = browser.env
    portal = getattr(env, site)
    page = browser.open_portal(portal.origin)
    try:
        before = len(browser.approval_windows())
        result = browser.run(
            page, 'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 50, "y": 50}])'
        )
        assert not result["ok"] and result["code"] == "ORIGIN_NOT_ALLOWED", result
        listed = browser.run(page, "SealBridge.listSeals()")
        assert not listed["ok"] and listed["code"] == "ORIGIN_NOT_ALLOWED", listed
        _no_new_window(browser, before)
        refused = [r for r in env.agent.audit() if r["origin_top"] == portal.origin]
        if site == "stranger":
            assert refused == []  # the extension stopped it; nothing reached the agent
        else:
            assert refused and all(r["result"] == "ORIGIN_NOT_ALLOWED" for r in refused), refused
    finally:
        page.close()
