"""Sites nobody pre-approved, in a real Chromium with the real agent: the extension's own prompt (allow once /
always / deny) is the one place a site is approved; the administrator's word (here the agent's config) wins and
can turn prompting off; a page without the extension learns so quickly; a big document shows progress and its
window before the agent has read it; the approval window fits 400×650."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.e2e_browser import (
    APPROVE_URL,
    CHROMIUM,
    Browser,
    b64decode,
    click_to_close,
    launch,
    save_artifact,
    sealbridge_verify,
)
from tests.support.e2e_env import (
    EXTENSION_ORIGIN,
    AgentProcess,
    Portal,
    free_port,
    start_portal,
    write_native_host,
)

pytestmark = pytest.mark.browser

STAMP = 'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])'


@pytest.fixture
def fresh_site(browser: Browser) -> Iterator[Portal]:
    """A portal on an origin neither the administrator nor the user has decided about."""
    portal = start_portal(browser.env.files)
    try:
        yield portal
    finally:
        portal.close()


def _approve_with_soft_seal(browser: Browser, window: Any) -> None:
    env = browser.env
    window.select_option("#seal", env.soft_esid)
    window.fill("#pin", env.pki.pin)
    window.click("#approve")


def test_allow_once_then_the_stamp_works_and_verifies(browser: Browser, documents, fresh_site, tmp_path):
    env = browser.env
    page = browser.open_portal(fresh_site.origin)
    try:
        _wait_connected(browser, page)  # the first detect may come before native messaging found the agent
        detected = browser.run(page, "SealBridge.detect()")["value"]
        assert detected["installed"] and detected["paired"] and detected["agent"]["connected"], detected
        assert detected["site"] == "ask" and detected["siteAllowed"] is False, detected

        prompt = browser.start_and_wait_for_prompt(page, "once", STAMP)
        prompt.click("button.lang[data-lang=zh_CN]")
        # Who asks, from the browser; the registrable part emphasised; what it asks for.
        assert prompt.text_content("#top-origin") == fresh_site.origin
        assert prompt.text_content("#top-origin .domain") == "127.0.0.1"
        assert prompt.text_content("#what") == "请求为文档加盖您的电子印章"
        assert prompt.is_visible("#insecure")  # plain http (loopback development)
        assert prompt.text_content("#once") == "允许一次"
        save_artifact("site-prompt-zh_CN.png", prompt.screenshot())
        with browser.context.expect_page(lambda p: p.url.startswith(APPROVE_URL), timeout=30_000) as info:
            browser.answer_prompt(prompt, "#once")
        window = info.value
        window.wait_for_selector("body[data-state=ready]", timeout=30_000)
        assert window.text_content("#origin") == fresh_site.origin
        _approve_with_soft_seal(browser, window)
        result = browser.job(page, "once")
        assert result["ok"], result
        path = tmp_path / "stamped.pdf"
        path.write_bytes(b64decode(result["value"]["b64"]))
        assert sealbridge_verify(env, path)["verdict"] == "valid"

        # Once means this call: the next one asks again; closing the prompt answers nothing.
        prompt = browser.start_and_wait_for_prompt(page, "again", "SealBridge.listSeals()")
        assert prompt.text_content("#what") == "请求查看您 USB Key 中的印章列表"
        prompt.close()
        again = browser.job(page, "again")
        assert not again["ok"] and again["code"] == "USER_CANCELLED", again
        assert browser.run(page, "SealBridge.detect()")["value"]["site"] == "ask"
    finally:
        page.close()


def test_deny_refuses_now_and_without_a_window_next_time(browser: Browser, documents, fresh_site):
    env = browser.env
    page = browser.open_portal(fresh_site.origin)
    try:
        prompt = browser.start_and_wait_for_prompt(page, "deny", STAMP)
        browser.answer_prompt(prompt, "#deny")
        result = browser.job(page, "deny")
        assert not result["ok"] and result["code"] == "ORIGIN_NOT_ALLOWED", result

        windows = len(browser.approval_windows()) + len(browser.site_prompts())
        for call in (STAMP, "SealBridge.listSeals()", 'window.verifyFile("contract.pdf")'):
            again = browser.run(page, call)
            assert not again["ok"] and again["code"] == "ORIGIN_NOT_ALLOWED", again
        time.sleep(1.0)  # a window would have opened by now
        assert len(browser.approval_windows()) + len(browser.site_prompts()) == windows
        assert browser.run(page, "SealBridge.detect()")["value"]["site"] == "denied"
        # The extension refused; nothing of this site reached the agent.
        assert not [r for r in env.agent.audit() if r["origin_top"] == fresh_site.origin]

        # The options page lists the decision; revoking it makes the site ask again.
        options = browser.context.new_page()
        try:
            options.goto(f"{EXTENSION_ORIGIN}/ui/options.html")
            row = options.locator(f'#sites li[data-site="{fresh_site.origin}"]')
            row.wait_for(timeout=15_000)
            assert row.get_attribute("data-decision") == "deny"
            row.locator("button.revoke").click()
            row.wait_for(state="detached")
        finally:
            options.close()
        assert browser.run(page, "SealBridge.detect()")["value"]["site"] == "ask"
    finally:
        page.close()


def test_always_allow_survives_a_browser_restart(playwright, env, documents, tmp_path):
    """Its own Chromium profile: closed and started again on the same directory."""
    profile = tmp_path / "profile"
    write_native_host(profile, env.agent.home, env.agent.env)
    site = start_portal(env.files)
    try:
        context = launch(playwright, env, profile)
        try:
            b = Browser(context, env)
            page = b.open_portal(site.origin)
            prompt = b.start_and_wait_for_prompt(page, "always", STAMP)
            with context.expect_page(lambda p: p.url.startswith(APPROVE_URL), timeout=30_000) as info:
                b.answer_prompt(prompt, "#always")
            window = info.value
            window.wait_for_selector("body[data-state=ready]", timeout=30_000)
            _approve_with_soft_seal(b, window)
            assert b.job(page, "always")["ok"]
        finally:
            context.close()

        context = launch(playwright, env, profile)
        try:
            b = Browser(context, env)
            page = b.open_portal(site.origin)
            detected = b.run(page, "SealBridge.detect()")["value"]
            assert detected["site"] == "allowed" and detected["siteAllowed"] is True, detected
            window = b.stamp_and_wait_for_window(page, "after-restart", STAMP)  # no prompt first
            assert not b.site_prompts()
            click_to_close(window)
            result = b.job(page, "after-restart")
            assert not result["ok"] and result["code"] == "USER_CANCELLED", result
        finally:
            context.close()
    finally:
        site.close()


def test_prompting_off_by_the_administrator_refuses_without_a_prompt(playwright, env, documents, tmp_path):
    """An agent whose administrator allows only listed sites (`default_site_policy = "denied"`): the extension
    learns it from the agent's hello, asks nobody, and refuses every other site."""
    home = tmp_path / "agent-home"
    home.mkdir(mode=0o700)
    listed = start_portal(env.files)
    site = start_portal(env.files)
    config = {
        "port": free_port(),
        "allowed_origins": [EXTENSION_ORIGIN],
        "default_site_policy": "denied",
        "allow_insecure_sites": True,
        "site_policy": {listed.origin: "allowed"},
        "require_platform": False,
    }
    (home / "config.json").write_text(json.dumps(config))
    agent = AgentProcess(
        home, config["port"], dict(env.agent.env, SEALBRIDGE_HOME=str(home)), tmp_path / "a.log"
    )
    agent.start()
    try:
        profile = tmp_path / "profile"
        write_native_host(profile, home, agent.env)
        context = launch(playwright, env, profile)
        try:
            b = Browser(context, env)
            page = b.open_portal(site.origin)
            _wait_connected(b, page)
            assert b.run(page, "SealBridge.detect()")["value"]["site"] == "denied"
            for call in (STAMP, "SealBridge.listSeals()"):
                result = b.run(page, call)
                assert not result["ok"] and result["code"] == "ORIGIN_NOT_ALLOWED", result
            time.sleep(1.0)  # a prompt would have opened by now
            assert not b.site_prompts() and not b.approval_windows()
            # The administrator's own site is allowed without a prompt.
            ok = b.run(b.open_portal(listed.origin), "SealBridge.listSeals()")
            assert ok["ok"], ok
            assert not b.site_prompts()
        finally:
            context.close()
    finally:
        agent.stop()
        site.close()
        listed.close()


def test_a_page_without_the_extension_gets_extension_not_found_quickly(playwright, browser: Browser):
    """Timed in the page: the SDK's presence timeout (a protocol value, under 3 s) ends every call."""
    plain = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    try:
        page = plain.new_page()
        page.goto(f"{browser.env.portal.origin}/index.html")
        page.wait_for_function("window.portalReady === true", timeout=10_000)
        outcomes = page.evaluate(
            """async () => {
              const { EXTENSION_TIMEOUT_MS } = await import("/sdk/sealbridge.js");
              const blob = new Blob(["%PDF-1.7\\n"]);
              const calls = [
                () => SealBridge.listSeals(),
                () => SealBridge.stamp({ document: blob, placements: [{ type: "at", page: 1, x: 1, y: 1 }] }),
                () => SealBridge.verify(blob),
              ];
              const out = [];
              for (const call of calls) {
                const t0 = performance.now();
                try { await call(); out.push({ ok: true }); }
                catch (e) { out.push({ code: e.code, timeout: e.data?.timeout_ms, elapsed: performance.now() - t0 }); }
              }
              const detected = await SealBridge.detect();
              return { out, detected, limit: EXTENSION_TIMEOUT_MS };
            }"""
        )
    finally:
        plain.close()
    assert outcomes["limit"] <= 3000
    for o in outcomes["out"]:
        assert o["code"] == "EXTENSION_NOT_FOUND" and o["timeout"] == outcomes["limit"], o
        assert o["elapsed"] < 3000, o
    assert outcomes["detected"]["installed"] is False


def test_a_big_document_shows_progress_and_its_window_before_the_agent_has_read_it(
    browser: Browser, portal_page, documents
):
    from tests.support.pdf_maker import PageSpec, make_pdf

    env = browser.env
    env.files["big.pdf"] = make_pdf(
        [PageSpec(lines=[(72, 780, "Annex: 40 MB of scans")])], filler_bytes=40 * 1024 * 1024
    )
    try:
        portal_page.evaluate("window.progressEvents = []")
        call = 'window.stampFile("big.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])'
        with browser.context.expect_page(lambda p: p.url.startswith(APPROVE_URL), timeout=60_000) as info:
            browser.start_job(portal_page, "big", call)
        window = info.value
        # Opened by the extension as soon as it had the document, before the agent asked for an approval.
        assert "job=" in window.url and "req=" not in window.url, window.url
        window.wait_for_selector("body[data-state=ready]", timeout=120_000)
        assert window.text_content("#doc-size") == "40.0 MB"
        events = portal_page.evaluate("window.progressEvents")
        phases = [e["phase"] for e in events]
        assert phases[0] == "start", phases
        receiving = [e["fraction"] for e in events if e["phase"] == "receiving"]
        uploading = [e["fraction"] for e in events if e["phase"] == "uploading"]
        assert len(receiving) >= 10 and receiving == sorted(receiving) and receiving[-1] == 1, receiving
        assert uploading and uploading[-1] == 1, uploading
        click_to_close(window)
        result = browser.job(portal_page, "big", timeout=60_000)
        assert not result["ok"] and result["code"] == "USER_CANCELLED", result
    finally:
        env.files.pop("big.pdf", None)


def test_the_window_at_400x650_shows_pin_and_button_without_scrolling(
    browser: Browser, portal_page, documents
):
    env = browser.env
    window = browser.stamp_and_wait_for_window(portal_page, "small", STAMP)
    try:
        window.set_viewport_size({"width": 400, "height": 650})
        window.click("button.lang[data-lang=zh_CN]")
        window.select_option("#seal", env.soft_esid)
        window.wait_for_selector("#preview img", timeout=30_000)
        for selector in ("#pin", "#approve", "#cancel", "#seal"):
            box = window.locator(selector).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 650, (selector, box)
            assert box["x"] >= 0 and box["x"] + box["width"] <= 400, (selector, box)
        # Who signs, in names.
        signer = window.text_content("#signer")
        assert "签章人" in signer and "示例科技有限公司" in signer and "证书颁发者" in signer, signer
        save_artifact("approval-window-400x650.png", window.screenshot())
        # A page of the preview can be enlarged.
        window.click("#preview img >> nth=0")
        window.wait_for_selector("#zoom[open]")
        save_artifact("approval-window-400x650-zoom.png", window.screenshot())
        window.click("#zoom-close")
    finally:
        click_to_close(window)
    result = browser.job(portal_page, "small")
    assert not result["ok"] and result["code"] == "USER_CANCELLED", result


# -- helpers ------------------------------------------------------------------------------------------------


def _wait_connected(b: Browser, page: Any) -> None:
    deadline = time.monotonic() + 30
    while not b.run(page, "SealBridge.detect()")["value"]["agent"]["connected"]:
        assert time.monotonic() < deadline, "the extension did not connect to the agent"
        time.sleep(0.3)
