"""The options page: agent status through the real pairing, the inserted keys, and the user's site list."""

from __future__ import annotations

import pytest

from tests.support.e2e_browser import Browser, save_artifact
from tests.support.e2e_env import EXTENSION_ID, SOFT_LABEL

pytestmark = pytest.mark.browser

OPTIONS_URL = f"chrome-extension://{EXTENSION_ID}/ui/options.html"


def test_options_show_the_agent_tokens_and_sites(browser: Browser):
    env = browser.env
    page = browser.context.new_page()
    try:
        page.goto(OPTIONS_URL)
        page.click("button.lang[data-lang=zh_CN]")
        page.locator("#agent").filter(has_text="已连接").wait_for(timeout=15_000)
        assert "已配对" in page.text_content("#agent")
        page.locator("#tokens li").filter(has_text=SOFT_LABEL).wait_for(timeout=15_000)
        labels = page.locator("#tokens li").all_text_contents()
        assert any(env.hsm.label in t for t in labels), labels
        sites = page.locator("#sites li").all_text_contents()
        assert any(env.portal.origin in s for s in sites), sites

        page.fill("#new-site", "http://portal.example.gov.cn")  # plain http off loopback: refused
        page.click("#add-site")
        assert page.locator("#sites li").count() == len(sites)
        page.fill("#new-site", "https://oa.example.gov.cn/some/page")
        page.click("#add-site")
        page.locator("#sites li").filter(has_text="https://oa.example.gov.cn").wait_for()
        save_artifact("options-page-zh_CN.png", page.screenshot(full_page=True))
        page.locator("#sites li").filter(has_text="https://oa.example.gov.cn").locator("button").click()
        page.locator("#sites li").filter(has_text="https://oa.example.gov.cn").wait_for(state="detached")
        assert page.locator("#sites li").count() == len(sites)
    finally:
        page.close()
