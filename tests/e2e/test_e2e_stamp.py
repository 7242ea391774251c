"""Journey 1 in a real Chromium: the portal stamps a PDF and an OFD through the SDK, the user approves in the
extension's window (seal, PIN), and the Blob the page gets back verifies through the SDK and the CLI."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.e2e_browser import (
    Browser,
    b64decode,
    click_to_close,
    save_artifact,
    seal_options,
    sealbridge_verify,
)

pytestmark = pytest.mark.browser

PIN = "123456"
PLACEMENTS = [
    {"type": "at", "page": 1, "x": 150, "y": 230},
    {"type": "keyword", "text": "盖章处"},
    {"type": "seam", "side": "right"},
]


def approve(window, seal_id: str, pin: str) -> None:
    window.select_option("#seal", seal_id)
    window.fill("#pin", pin)
    window.click("#approve")


@pytest.mark.parametrize("doc", ["contract.pdf", "form.ofd"])
def test_stamp_at_keyword_and_seam_then_verify(browser: Browser, portal_page, documents, doc, tmp_path):
    env = browser.env
    window = browser.stamp_and_wait_for_window(
        portal_page, "stamp", f"window.stampFile({json.dumps(doc)}, {json.dumps(PLACEMENTS)})"
    )
    # What the user sees: the page's origin as the browser reports it, the document, the seals, a preview.
    assert window.text_content("#origin") == env.portal.origin
    assert window.text_content("#doc-name") == doc
    options = seal_options(window)
    assert env.soft_esid in options and env.hsm.esid in options
    window.select_option("#seal", env.soft_esid)
    window.wait_for_selector("#seal-picture:not([hidden])")
    kind = doc.rsplit(".", 1)[1]
    previews = window.locator("#preview img").count()
    lang = "zh_CN" if kind == "pdf" else "en"  # one screenshot in each language
    window.click(f"button.lang[data-lang={lang}]")
    window.wait_for_selector(f"button.lang.active[data-lang={lang}]")
    title = window.text_content("h1")
    assert title == ("确认盖章" if lang == "zh_CN" else "Approve stamping"), title
    save_artifact(f"approval-window-{kind}-{lang}.png", window.screenshot(full_page=True))
    preview_text = window.text_content("#preview")

    approve(window, env.soft_esid, PIN)
    result = browser.job(portal_page, "stamp", timeout=60_000)
    assert result["ok"], result
    stamped = b64decode(result["value"]["b64"])
    assert result["value"]["type"] == ("application/pdf" if kind == "pdf" else "application/ofd")
    path = tmp_path / f"stamped.{kind}"
    path.write_bytes(stamped)
    save_artifact(f"stamped.{kind}", stamped)

    sdk = browser.run(portal_page, "window.verifyBlob()")
    assert sdk["ok"], sdk
    assert sdk["value"]["verdict"] == "valid", json.dumps(sdk["value"], ensure_ascii=False)[:3000]
    cli = sealbridge_verify(env, path)
    assert cli["verdict"] == "valid", json.dumps(cli, ensure_ascii=False)[:3000]
    assert {s["seal"]["esID"] for s in cli["seals"]} == {env.soft_esid}
    phases = [e["phase"] for e in portal_page.evaluate("window.progressEvents")]
    assert "signing" in phases and "sending" in phases, phases  # the page that asked hears the progress
    # The window showed the pages with the seal drawn where it landed (checked last, so a missing preview
    # does not hide the rest of the journey).
    assert previews >= 1, preview_text


def test_wrong_pin_shows_retries_left_and_cancel_returns_user_cancelled(
    browser: Browser, portal_page, documents
):
    env = browser.env
    window = browser.stamp_and_wait_for_window(
        portal_page,
        "wrong-pin",
        'window.stampFile("contract.pdf", [{"type": "at", "page": 2, "x": 100, "y": 100}])',
    )
    approve(window, env.soft_esid, "654321")
    message = window.locator("#message")
    message.filter(has_text=re.compile("口令错误|Wrong PIN")).wait_for(timeout=20_000)
    failures = [
        r for r in env.agent.audit() if r["event"] == "pin_failure" and r["result"] == "PIN_INCORRECT"
    ]
    left = failures[-1]["detail"]["retries_left"]
    assert left >= 1 and str(left) in message.text_content(), message.text_content()
    assert window.input_value("#pin") == ""  # the wrong PIN is not kept in the field
    assert browser.jobs_pending(portal_page, "wrong-pin")  # the page is still waiting: the user may retry

    with window.expect_event("close", timeout=10_000):
        click_to_close(window)
    result = browser.job(portal_page, "wrong-pin")
    assert not result["ok"]
    assert result["code"] == "USER_CANCELLED" and result["name"] == "SealBridgeError", result
    assert result["messageZh"]
    audit = env.agent.audit()
    assert any(r["event"] == "pin_failure" and r["result"] == "PIN_INCORRECT" for r in audit)
    assert any(r["event"] == "stamp" and r["result"] == "USER_CANCELLED" for r in audit)


def test_closing_the_window_cancels(browser: Browser, portal_page, documents):
    window = browser.stamp_and_wait_for_window(
        portal_page, "closed", 'window.stampFile("form.ofd", [{"type": "at", "page": 1, "x": 60, "y": 60}])'
    )
    window.close()  # the window's own close button, not Cancel
    result = browser.job(portal_page, "closed", timeout=20_000)
    assert not result["ok"] and result["code"] == "USER_CANCELLED", result


def test_a_large_document_travels_in_chunks_both_ways(browser: Browser, portal_page, documents, tmp_path):
    env = browser.env
    size = len(documents["large.pdf"])
    window = browser.stamp_and_wait_for_window(
        portal_page, "large", 'window.stampFile("large.pdf", [{"type": "at", "page": 1, "x": 100, "y": 100}])'
    )
    assert window.text_content("#doc-size") == f"{size / 1024 / 1024:.1f} MB"  # 9 MiB: KB/MB, not KiB
    approve(window, env.soft_esid, PIN)
    result = browser.job(portal_page, "large", timeout=120_000)
    assert result["ok"], result
    stamped = b64decode(result["value"]["b64"])
    assert len(stamped) > size and stamped.startswith(documents["large.pdf"][:1024])  # incremental update
    path = tmp_path / "large-stamped.pdf"
    path.write_bytes(stamped)
    assert sealbridge_verify(env, path)["verdict"] == "valid"


def test_one_window_per_site_at_a_time(browser: Browser, portal_page, documents):
    window = browser.stamp_and_wait_for_window(
        portal_page,
        "first",
        'window.stampFile("contract.pdf", [{"type": "at", "page": 1, "x": 60, "y": 60}])',
    )
    before = len(browser.approval_windows())
    second = browser.run(
        portal_page, 'window.stampFile("form.ofd", [{"type": "at", "page": 1, "x": 60, "y": 60}])'
    )
    assert not second["ok"] and second["code"] == "BUSY", second
    assert len(browser.approval_windows()) == before
    with window.expect_event("close", timeout=10_000):
        click_to_close(window)
    assert browser.job(portal_page, "first")["code"] == "USER_CANCELLED"
