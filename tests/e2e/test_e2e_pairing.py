"""Pairing without native messaging (a browser the host manifest was not installed for): the user runs
`sealbridge pair` and pastes the code on the options page. A code with the wrong secret never authenticates."""

from __future__ import annotations

import json
import secrets
import subprocess
from types import SimpleNamespace

import pytest

from tests.support.e2e_browser import Browser, launch
from tests.support.e2e_env import EXTENSION_ID, REPO, SEALBRIDGE

pytestmark = pytest.mark.browser

OPTIONS_URL = f"chrome-extension://{EXTENSION_ID}/ui/options.html"


def pair_with(page, code: str) -> None:
    page.fill("#pairing", code)
    page.click("#pair")


def test_pairing_code_on_the_options_page(playwright, browser: Browser, tmp_path):
    env = browser.env
    context = launch(playwright, env, tmp_path / "profile-without-native-host")
    try:
        page = context.new_page()
        page.goto(OPTIONS_URL)
        page.click("button.lang[data-lang=zh_CN]")
        page.locator("#agent").filter(has_text="未连接").wait_for(timeout=15_000)

        from agent.pairing import pairing_code

        forged = pairing_code(SimpleNamespace(port=env.agent.port), secrets.token_bytes(32))
        pair_with(page, forged)
        page.locator("#message").filter(has_text="UNAUTHENTICATED").wait_for(timeout=15_000)
        assert "未连接" in page.text_content("#agent")
        assert any(
            json.loads(line).get("event") == "auth_refused"
            for line in env.agent.log_text().splitlines()
            if line.startswith("{")
        )

        out = subprocess.run(
            [*SEALBRIDGE, "pair", "--json"],
            cwd=REPO,
            env=env.agent.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        code = json.loads(out.stdout)["code"]
        pair_with(page, code)
        page.locator("#agent").filter(has_text="已连接").wait_for(timeout=15_000)
        assert "已配对" in page.text_content("#agent") and page.text_content("#message") == ""
    finally:
        context.close()
