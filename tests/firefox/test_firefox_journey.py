"""The stamping journey in Firefox ESR: the portal stamps a PDF and an OFD through the SDK, the user approves in
the extension's window (seal, PIN), the result verifies through the SDK and on the extension's verify page.

Real parts only: Debian's firefox-esr with the extension from extension/ (temporary add-on), the agent as a
process reached through Firefox's native messaging and its moz-extension:// origin, the platform, a soft token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.e2e_browser import save_artifact
from tests.support.e2e_env import Environment
from tests.support.firefox import Firefox, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.firefox]

PIN = "123456"
PLACEMENTS = [
    {"type": "at", "page": 1, "x": 150, "y": 230},
    {"type": "keyword", "text": "盖章处"},
    {"type": "seam", "side": "right"},
]


def _by() -> Any:
    from marionette_driver.by import By

    return By


def open_portal(firefox: Firefox, env: Environment) -> str:
    m = firefox.client
    handle = m.open(type="tab")["handle"]
    m.switch_to_window(handle)
    m.navigate(f"{env.portal.origin}/index.html")
    wait_for(m, lambda _: m.execute_script("return window.wrappedJSObject.portalReady === true"), "portal")
    return handle


def start_job(firefox: Firefox, name: str, call: str, *args: Any) -> None:
    """window.runJob(name, () => <call>(...args)) in the page itself (arguments cross as JSON)."""
    firefox.client.execute_script(
        "const w = window.wrappedJSObject;"
        "const args = w.JSON.parse(arguments[2]);"
        "w.runJob(arguments[0], () => w[arguments[1]](...args));",
        script_args=[name, call, json.dumps(list(args))],
    )


def job_result(firefox: Firefox, name: str, timeout: float = 120.0) -> dict[str, Any]:
    m = firefox.client
    script = f"return window.wrappedJSObject.JSON.stringify(window.wrappedJSObject.jobs[{json.dumps(name)}])"
    text = wait_for(m, lambda _: (lambda t: t if t not in (None, "null") else None)(m.execute_script(script)),
                    f"the page's job {name}", timeout)  # fmt: skip
    return json.loads(text)


def screenshot(firefox: Firefox) -> bytes:
    return base64.b64decode(firefox.client.screenshot(full=True))


@pytest.mark.parametrize("doc", ["contract.pdf", "form.ofd"])
def test_firefox_stamp_approve_then_verify(
    firefox: Firefox, ff_env: Environment, ff_documents, doc, tmp_path
):
    By = _by()  # noqa: N806 - Marionette's locator namespace
    m, env = firefox.client, ff_env
    kind = doc.rsplit(".", 1)[1]
    portal = open_portal(firefox, env)
    start_job(firefox, "stamp", "stampFile", doc, PLACEMENTS)

    # The approval window the extension opened (windows.create popup), found by its URL.
    window = firefox.handle_with_url(firefox.url("ui/approve.html"))
    m.switch_to_window(window)
    wait_for(m, lambda _: m.find_element(By.CSS_SELECTOR, "body[data-state=ready]"), "approval window ready")
    assert m.find_element(By.ID, "origin").text == env.portal.origin
    assert m.find_element(By.ID, "doc-name").text == doc
    m.find_element(By.CSS_SELECTOR, "button.lang[data-lang=zh_CN]").click()
    wait_for(m, lambda _: m.find_element(By.CSS_SELECTOR, "button.lang.active[data-lang=zh_CN]"), "中文")
    assert m.find_element(By.CSS_SELECTOR, "h1").text == "确认盖章"
    m.find_element(By.CSS_SELECTOR, f'#seal option[value="{env.soft_esid}"]').click()
    wait_for(m, lambda _: m.find_element(By.ID, "seal-picture").is_displayed(), "the seal's picture")
    wait_for(m, lambda _: m.find_elements(By.CSS_SELECTOR, "#preview img"), "the preview with the seal")
    m.find_element(By.ID, "pin").send_keys(PIN)
    save_artifact(f"firefox-approval-window-{kind}.png", screenshot(firefox))
    m.find_element(By.ID, "approve").click()

    m.switch_to_window(portal)
    result = job_result(firefox, "stamp")
    assert result["ok"], result
    stamped = base64.b64decode(result["value"]["b64"])
    assert result["value"]["type"] == ("application/pdf" if kind == "pdf" else "application/ofd")
    path = tmp_path / f"firefox-stamped.{kind}"
    path.write_bytes(stamped)
    save_artifact(f"firefox-stamped.{kind}", stamped)

    start_job(firefox, "verify", "verifyBlob")
    sdk = job_result(firefox, "verify")
    assert sdk["ok"] and sdk["value"]["verdict"] == "valid", json.dumps(sdk, ensure_ascii=False)[:3000]
    m.close()

    # The user drops the stamped file on the extension's verify page.
    page = firefox.open_extension_tab("ui/verify.html")
    m.switch_to_window(page)
    try:
        wait_for(m, lambda _: m.find_element(By.CSS_SELECTOR, "body[data-state=ready]"), "verify page ready")
        # The input is hidden behind the page's drop zone; WebDriver only types into inputs it can reach,
        # so show it first (Playwright's set_input_files does the same for hidden inputs).
        file_input = m.find_element(By.ID, "file")
        m.execute_script("arguments[0].hidden = false;", script_args=[file_input])
        file_input.send_keys(str(path))
        wait_for(
            m, lambda _: m.find_element(By.CSS_SELECTOR, "body[data-state=done]"), "verify page result", 120
        )
        assert m.find_element(By.ID, "message").text == ""
        assert m.find_element(By.ID, "verdict").get_attribute("data-verdict") == "valid"
        save_artifact(f"firefox-verify-page-{kind}.png", screenshot(firefox))
    finally:
        m.close()
        m.switch_to_window(m.window_handles[0])
