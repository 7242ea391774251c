"""Journey 2: verifying sealed material — on the extension's verify page (the user's own file) and through the
SDK from the portal. The tampered sample (Document.xml changed after signing) must show as invalid, with why."""

from __future__ import annotations

import base64
import re

import pytest

from tests.support.e2e_browser import VERIFY_URL, Browser, save_artifact
from tests.support.e2e_env import REPO

pytestmark = pytest.mark.browser

SAMPLES = REPO.parent / "shared" / "samples" / "ofd"
TAMPERED = SAMPLES / "gomain-invoice-v4-tampered.ofd"
INTACT = SAMPLES / "gomain-invoice-v4.ofd"


_CJK = re.compile(r"[\u4e00-\u9fff]")
# Two words of Latin letters in a row: a phrase or sentence in English (IDs, hashes, file paths and
# algorithm names such as "SM2-with-SM3" are single tokens and may stand alone).
_ENGLISH_PHRASE = re.compile(r"[A-Za-z]{2,}[ ,.:;]+[A-Za-z]{2,}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?[^ ，。；（）]*(?: \(UTC\+8\))?")
_BEIJING = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(UTC\+8\)$")


def assert_chinese_screen(page) -> None:
    """In 中文 mode: no text on the page is an English phrase without Chinese, and every time is Beijing
    time with the zone shown ("2026-12-06 09:31:23 (UTC+8)")."""
    texts = page.evaluate(
        """() => {
          const out = [];
          const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const s = n.textContent.trim();
            // Names, codes and digests are data (translate="no"), not sentences of ours.
            if (s && n.parentElement.offsetParent !== null && !n.parentElement.closest("[translate=no]")) out.push(s);
          }
          return out;
        }"""
    )
    assert texts, "nothing rendered"
    bad = [t for t in texts if _ENGLISH_PHRASE.search(t) and not _CJK.search(t)]
    assert not bad, bad
    times = [m.group(0) for t in texts for m in _TIME.finditer(t)]
    assert times, "no times shown"
    assert all(_BEIJING.match(t) for t in times), times


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
        # What happened, not "the seal is fake": the document was changed after it was sealed.
        assert page.text_content("#verdict") == "文档在盖章后被修改"
        card = page.locator("section.seal-card").first
        assert card.get_attribute("data-verdict") == "invalid"
        integrity = card.locator("tr[data-check=integrity]")
        assert integrity.get_attribute("class") == "check-failed"
        reason = card.locator("p.reason").text_content()
        assert reason == "原因：文档完整性：文件 /Doc_0/Document.xml 在盖章后被改动", reason
        assert card.locator("img.seal-picture").count() == 1  # the seal's own picture, from the report
        assert_chinese_screen(page)
        save_artifact("verify-page-tampered-zh.png", page.screenshot(full_page=True))
        # The same report in English, without verifying again.
        page.click("button.lang[data-lang=en]")
        page.wait_for_selector("button.lang.active[data-lang=en]")
        assert page.text_content("#verdict") == "The document was changed after it was sealed"
        assert (
            "Document integrity: The file /Doc_0/Document.xml was changed"
            in card.locator("p.reason").text_content()
        )
        save_artifact("verify-page-tampered-en.png", page.screenshot(full_page=True))
    finally:
        page.click("button.lang[data-lang=zh_CN]")
        page.close()


def test_verify_page_shows_the_intact_invoice(browser: Browser):
    page = verify_on_page(browser, INTACT, lang="zh_CN")
    try:
        assert page.text_content("#message") == "", page.text_content("#message")
        # A genuine third-party invoice: intact, but its certificates are not among this agent's trust
        # anchors and its seal is not at our platform, so it cannot be fully confirmed, and it is not invalid.
        assert page.get_attribute("#verdict", "data-verdict") == "indeterminate"
        headline = page.text_content("#verdict")
        assert headline.startswith("无法完全确认（") and headline.endswith("）"), headline
        assert page.locator("tr[data-check=integrity].check-ok").count() >= 1
        assert_chinese_screen(page)
        save_artifact("verify-page-indeterminate-zh.png", page.screenshot(full_page=True))
    finally:
        page.close()


def test_verify_page_says_what_is_wrong_with_a_file_in_chinese(browser: Browser, tmp_path):
    junk = tmp_path / "不是文档.pdf"
    junk.write_bytes(b"hello, this is not a document")
    page = verify_on_page(browser, junk, lang="zh_CN")
    try:
        assert page.text_content("#message") == "不支持的文档格式（DOC_UNSUPPORTED）"
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
    # The approval window shows the seal's validity in Beijing time with the zone, too.
    meta = window.text_content("#seal-meta")
    assert re.search(r"(有效期至|valid until) \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(UTC\+8\)", meta), meta
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
        assert page.text_content("#verdict") == "有效"
        card = page.locator("section.seal-card").first
        assert env.soft_esid in card.text_content()
        assert card.locator("img.seal-picture").count() == 1
        assert card.locator("tr.check-failed").count() == 0 and card.locator("p.reason").count() == 0
        # The agent has a platform, so it time-stamped with the platform's TSA (issue 16): the time is
        # trusted, the timestamp check passes, and no "signer's claim only" line is shown.
        assert card.locator("tr.check-ok[data-check=timestamp]").count() == 1
        assert card.locator("p.warning[data-warning=SIGNING_TIME_FROM_SIGNER_ONLY]").count() == 0
        assert_chinese_screen(page)
        save_artifact("verify-page-valid-zh_CN.png", page.screenshot(full_page=True))
    finally:
        page.close()


def test_verify_page_shows_a_seal_revoked_after_signing_in_amber(browser: Browser, tmp_path):
    """A document sealed while the seal was active, the seal revoked since: valid, with the revocation on
    its own amber line and in the headline — not a plain green 有效."""
    from formats.gm.keys import load_private_key
    from formats.keysigner import KeySigner
    from stamping.ofd import stamp
    from stamping.options import StampOptions
    from stamping.placement import At
    from tests.support.central import http
    from tests.support.e2e_env import _cert_der, register_seal

    env = browser.env
    cert = _cert_der(env.pki.signer_certs["sm2"])
    seal = register_seal(env.central_url, env.admin_token, cert, "finance", "财务专用章", 40)
    out = tmp_path / "付款通知-已盖章.ofd"
    with out.open("wb") as f:
        stamp(
            (REPO.parent / "shared" / "samples" / "ofd" / "unsigned-helloworld.ofd").read_bytes(),
            f,
            KeySigner(load_private_key(env.pki.signer_keys["sm2"].read_bytes()), cert),
            base64.b64decode(seal["seal_der"]),
            [At(page=1, x=60, y=60)],
            StampOptions(),
        )
    status, body = http(
        "POST",
        f"{env.central_url}/api/v1/admin/seals/{seal['esID']}/revoke",
        {"reason": "印章注销"},
        env.admin_token,
    )
    assert status == 200, body
    page = verify_on_page(browser, out, lang="zh_CN")
    try:
        assert page.text_content("#message") == "", page.text_content("#message")
        assert page.get_attribute("#verdict", "data-verdict") == "valid"
        assert page.get_attribute("#verdict", "data-tone") == "attention"
        assert page.text_content("#verdict") == "有效，但印章现已注销"
        card = page.locator("section.seal-card").first
        warning = card.locator("p.warning.attention[data-warning=SEAL_REVOKED_AFTER_SIGNING]")
        text = warning.text_content()
        assert text.startswith("请注意：印章已于 ") and text.endswith(" (UTC+8) 注销（盖章时有效）"), text
        color = warning.evaluate("e => getComputedStyle(e).backgroundColor")
        assert color == "rgb(255, 240, 194)", color  # amber, not the green of a plain valid seal
        assert_chinese_screen(page)
        save_artifact("verify-page-revoked-after-signing-zh.png", page.screenshot(full_page=True))
        page.click("button.lang[data-lang=en]")
        page.wait_for_selector("button.lang.active[data-lang=en]")
        assert page.text_content("#verdict") == "Valid, but the seal has since been revoked"
        save_artifact("verify-page-revoked-after-signing-en.png", page.screenshot(full_page=True))
    finally:
        page.click("button.lang[data-lang=zh_CN]")
        page.close()
