"""Journey 1 with an SKF USB key (the software SKF key, real C library, real SM2): the approval window shows
the key's seal, a wrong PIN shows the tries left, the right one stamps a document that verifies, and pulling
the key out updates the window."""

from __future__ import annotations

import re

import pytest

from tests.support.e2e_browser import (
    Browser,
    b64decode,
    click_to_close,
    save_artifact,
    seal_options,
    sealbridge_verify,
    wait_for,
)

pytestmark = pytest.mark.browser


def test_stamp_through_an_skf_key(browser: Browser, portal_page, documents, tmp_path):
    env = browser.env
    window = browser.stamp_and_wait_for_window(
        portal_page, "skf", 'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 80, "y": 90}])'
    )
    assert env.skf.esid in seal_options(window)
    window.select_option("#seal", env.skf.esid)
    window.wait_for_selector("#seal-picture:not([hidden])")
    save_artifact("approval-window-skf.png", window.screenshot(full_page=True))

    window.fill("#pin", "654321")
    window.click("#approve")
    message = window.locator("#message")
    message.filter(has_text=re.compile("口令错误|Wrong PIN")).wait_for(timeout=20_000)
    assert "5" in message.text_content(), message.text_content()  # six tries, one spent

    window.select_option("#seal", env.skf.esid)
    window.fill("#pin", env.pki.pin)
    window.click("#approve")
    result = browser.job(portal_page, "skf", timeout=60_000)
    assert result["ok"], result
    path = tmp_path / "stamped-skf.pdf"
    path.write_bytes(b64decode(result["value"]["b64"]))
    report = sealbridge_verify(env, path)
    assert report["verdict"] == "valid", report
    assert {s["seal"]["esID"] for s in report["seals"]} == {env.skf.esid}


def test_pulling_the_skf_key_updates_the_window(browser: Browser, portal_page, documents):
    env = browser.env
    window = browser.stamp_and_wait_for_window(
        portal_page,
        "skf-pull",
        'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])',
    )
    try:
        assert env.skf.esid in seal_options(window)
        env.skf.remove()
        window.wait_for_selector("body[data-token=removed]", timeout=20_000)
        assert env.skf.device in window.text_content("#message")
        wait_for(lambda: env.skf.esid not in seal_options(window), what="the SKF seal to leave the chooser")
        env.skf.insert()
        window.wait_for_selector("body[data-token=inserted]", timeout=20_000)
        wait_for(lambda: env.skf.esid in seal_options(window), what="the SKF seal to come back")
    finally:
        if not (env.skf.home / env.skf.device).exists():
            env.skf.insert()
        if not window.is_closed():
            with window.expect_event("close", timeout=10_000):
                click_to_close(window)
    assert browser.job(portal_page, "skf-pull")["code"] == "USER_CANCELLED"
