"""Batch stamping in a real Chromium: the portal sends five documents through SDK.stampBatch, the batch window
lists them, the approve button stays disabled until the clerk has paged through every preview, one PIN, and
the five Blobs the page gets back verify with the CLI (trust anchors and the platform)."""

from __future__ import annotations

import json

import pytest

from tests.support.e2e_browser import Browser, b64decode, save_artifact, sealbridge_verify
from tests.support.e2e_env import EXTENSION_ID

pytestmark = pytest.mark.browser

BATCH_URL = f"chrome-extension://{EXTENSION_ID}/ui/approve-batch.html"
PIN = "123456"
PLACEMENTS = [{"type": "at", "page": 1, "x": 150, "y": 120}]


@pytest.fixture
def batch_files(browser: Browser, documents) -> list[str]:
    from tests.support.pdf_maker import contract_pdf

    extra = {f"invoice-{n}.pdf": contract_pdf(n) for n in (1, 2, 4)}
    browser.env.files.update(extra)
    return ["contract.pdf", "form.ofd", *extra]


def test_batch_window_pages_through_five_documents_then_stamps(
    browser: Browser, portal_page, batch_files, tmp_path
):
    env = browser.env
    with browser.context.expect_page(lambda p: p.url.startswith(BATCH_URL), timeout=30_000) as info:
        browser.start_job(
            portal_page,
            "batch",
            f"window.stampBatchFiles({json.dumps(batch_files)}, {json.dumps(PLACEMENTS)})",
        )
    window = info.value
    window.wait_for_load_state()
    window.wait_for_selector("body[data-state=ready]", timeout=30_000)
    assert window.text_content("#origin") == env.portal.origin
    rows = window.locator("#docs tbody tr")
    assert rows.count() == 5
    assert [rows.nth(i).locator("td.name").text_content() for i in range(5)] == batch_files
    window.select_option("#seal", env.soft_esid)

    # The first document's preview is drawn at once; the button waits for the other four.
    window.wait_for_selector('#preview[data-index="0"] img', timeout=30_000)
    assert window.is_disabled("#approve")
    for i in range(1, 5):
        window.click("#next")
        window.wait_for_selector(f'#preview[data-index="{i}"] img', timeout=30_000)
        if i < 4:
            assert window.is_disabled("#approve"), f"enabled after {i + 1} of 5 previews"
    window.wait_for_selector("body[data-reviewed=all] #approve:not([disabled])", timeout=10_000)
    assert window.locator("#docs td.shown", has_text="✓").count() == 5
    window.fill("#pin", PIN)
    save_artifact("batch-approval-window.png", window.screenshot(full_page=True))

    window.click("#approve")
    result = browser.job(portal_page, "batch", timeout=120_000)
    assert result["ok"], result
    outs = result["value"]["results"]
    assert [r["status"] for r in outs] == ["stamped"] * 5, outs
    for name, r in zip(batch_files, outs, strict=True):
        kind = name.rsplit(".", 1)[1]
        assert r["type"] == ("application/pdf" if kind == "pdf" else "application/ofd")
        path = tmp_path / f"stamped-{name}"
        path.write_bytes(b64decode(r["b64"]))
        report = sealbridge_verify(env, path)
        assert report["verdict"] == "valid", json.dumps(report, ensure_ascii=False)[:2000]
        assert {s["seal"]["esID"] for s in report["seals"]} == {env.soft_esid}
    finished = portal_page.evaluate(
        "window.batchEvents.filter((e) => e.status === 'stamped').map((e) => e.index)"
    )
    assert sorted(finished) == [0, 1, 2, 3, 4]  # the page heard each document as it finished

    audit = env.agent.audit()
    batch = [
        r for r in audit if r["event"] == "batch" and r["detail"]["batch_id"] == result["value"]["batchId"]
    ]
    assert len(batch) == 1 and batch[0]["result"] == "OK"
    manifest = batch[0]["detail"]["manifest"]
    assert [d["shown"] for d in manifest["documents"]] == [True] * 5
    linked = {d["audit_seq"] for d in manifest["documents"]}
    assert {
        r["seq"]
        for r in audit
        if r["event"] == "stamp" and r["detail"].get("batch_id") == batch[0]["detail"]["batch_id"]
    } == linked
