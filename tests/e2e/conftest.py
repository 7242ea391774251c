"""Browser e2e fixtures: one environment (platform, tokens, agent, portals) and one Chromium with the unpacked
extension, shared by every e2e module (starting them is most of the suite's time). Package scope, not
session: Playwright's sync API keeps an event loop running while it is alive, which would break the async
tests of other folders that run after this one in the same pytest process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_browser import CHROMIUM, Browser, launch
from tests.support.e2e_env import REPO, Environment, build_environment


@pytest.fixture(scope="package")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    environment = build_environment(tmp_path_factory.mktemp("e2e"))
    try:
        yield environment
    finally:
        environment.close()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Any, env: Environment) -> Iterator[Browser]:
    context = launch(playwright, env, env.user_data_dir)
    try:
        b = Browser(context, env)
        # An older version's list (the user allowed these two): migrated to "always allow" decisions.
        allowed = [env.portal.origin, env.agent_denied.origin]
        b.worker.evaluate(f"chrome.storage.local.set({{allowedOrigins: {json.dumps(allowed)}}})")
        yield b
    finally:
        context.close()


@pytest.fixture
def portal_page(browser: Browser) -> Iterator[Any]:
    page = browser.open_portal()
    yield page
    page.close()


# -- documents -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def documents(env: Environment) -> dict[str, bytes]:
    """A 3-page contract PDF and a 2-page OFD (both with the keyword 盖章处), served at /files/<name>."""
    from tests.support.e2e_env import journey_documents
    from tests.support.pdf_maker import PageSpec, make_pdf

    docs = {
        **journey_documents(),
        # 9 MiB: more than two 4 MiB chunks between page, content script, worker and agent
        "large.pdf": make_pdf(
            [PageSpec(lines=[(72, 780, "Annex with a large scan")])], filler_bytes=9 * 1024 * 1024
        ),
        "tampered.ofd": (
            REPO.parent / "shared" / "samples" / "ofd" / "gomain-invoice-v4-tampered.ofd"
        ).read_bytes(),
    }
    env.files.update(docs)
    return docs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed e2e test shows the end of the agent's log (its refusals, sessions and errors)."""
    outcome = yield
    report = outcome.get_result()
    environment = item.funcargs.get("env") if hasattr(item, "funcargs") else None
    if environment is None:
        browser_fixture = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
        environment = getattr(browser_fixture, "env", None)
    if report.failed and environment is not None:
        report.sections.append(
            ("agent log (last 40 lines)", "\n".join(environment.agent.log_text().splitlines()[-40:]))
        )
