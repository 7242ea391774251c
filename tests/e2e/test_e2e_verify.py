"""Journey 2: verifying sealed material — on the extension's verify page (the user's own file) and through the
SDK from the portal. The tampered sample (Document.xml changed after signing) must show as invalid, with why."""

from __future__ import annotations

import base64

import pytest

from tests.support.e2e_browser import VERIFY_URL, Browser, save_artifact
from tests.support.e2e_env import REPO

pytestmark = pytest.mark.browser

SAMPLES = REPO.parent / "shared" / "samples" / "ofd"
TAMPERED = SAMPLES / "gomain-invoice-v4-tampered.ofd"
INTACT = SAMPLES / "gomain-invoice-v4.ofd"


def verify_on_page(browser: Browser, path, lang: str | None = None):
    page = browser.context.new_page()
    page.goto(VERIFY_URL)
    page.wait_for_selector("body[data-state=ready]")
    if lang:
        page.click(f"button.lang[data-lang={lang}]")
        page.wait_for_selector(f"button.lang.active[data-lang={lang}]")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("body[data-state=done]", timeout=60_000)
    return page


def test_verify_page_shows_the_tampered_sample_invalid_with_the_reason(browser: Browser):
    page = verify_on_page(browser, TAMPERED, lang="zh_CN")
    try:
        assert page.text_content("#message") == "", page.text_content("#message")
        assert page.get_attribute("#verdict", "data-verdict") == "invalid"
        assert page.text_content("#verdict") == "印章无效"
        card = page.locator("section.seal-card").first
        assert card.get_attribute("data-verdict") == "invalid"
        integrity = card.locator("tr[data-check=integrity]")
        assert integrity.get_attribute("class") == "check-failed"
        reason = card.locator("p.reason").text_content()
        assert "文档完整性" in reason and "Document.xml" in reason, reason
        assert card.locator("img.seal-picture").count() == 1  # the seal's own picture, from the report
        save_artifact("verify-page-tampered-zh.png", page.screenshot(full_page=True))
        # The same report in English, without verifying again.
        page.click("button.lang[data-lang=en]")
        page.wait_for_selector("button.lang.active[data-lang=en]")
        assert page.text_content("#verdict") == "Invalid"
        assert "Document integrity" in card.locator("p.reason").text_content()
        save_artifact("verify-page-tampered-en.png", page.screenshot(full_page=True))
    finally:
        page.click("button.lang[data-lang=zh_CN]")
        page.close()


def test_verify_page_shows_the_intact_invoice(browser: Browser):
    page = verify_on_page(browser, INTACT)
    try:
        assert page.text_content("#message") == "", page.text_content("#message")
        # A genuine third-party invoice: intact, but its certificates are not among this agent's trust
        # anchors and its seal is not at our platform, so it cannot be fully confirmed, and it is not invalid.
        assert page.get_attribute("#verdict", "data-verdict") in ("valid", "indeterminate")
        assert page.locator("tr[data-check=integrity].check-ok").count() >= 1
    finally:
        page.close()


def test_sdk_verify_from_the_portal(browser: Browser, portal_page, documents):
    result = browser.run(portal_page, 'window.verifyFile("tampered.ofd")')
    assert result["ok"], result
    report = result["value"]
    assert report["verdict"] == "invalid"
    assert report["seals"][0]["checks"]["integrity"]["status"] == "failed"


def test_verify_page_shows_a_document_stamped_here_as_valid(
    browser: Browser, portal_page, documents, tmp_path
):
    """Stamp on the portal, then drop the result on the verify page: valid, with the seal's picture."""
    env = browser.env
    window = browser.stamp_and_wait_for_window(
        portal_page, "for-verify", 'window.stampFile("form.ofd", [{"type": "keyword", "text": "盖章处"}])'
    )
    window.select_option("#seal", env.soft_esid)
    window.fill("#pin", "123456")
    window.click("#approve")
    result = browser.job(portal_page, "for-verify")
    assert result["ok"], result
    path = tmp_path / "申请表-已盖章.ofd"
    path.write_bytes(base64.b64decode(result["value"]["b64"]))
    page = verify_on_page(browser, path, lang="zh_CN")
    try:
        assert page.text_content("#message") == "", page.text_content("#message")
        assert page.get_attribute("#verdict", "data-verdict") == "valid"
        card = page.locator("section.seal-card").first
        assert env.soft_esid in card.text_content()
        assert card.locator("img.seal-picture").count() == 1
        assert card.locator("tr.check-failed").count() == 0 and card.locator("p.reason").count() == 0
        save_artifact("verify-page-valid-zh_CN.png", page.screenshot(full_page=True))
    finally:
        page.close()
