"""Firefox e2e fixtures: the same real environment as the Chromium suite (platform, tokens, agent, portal) and
one firefox-esr with the extension as a temporary add-on, native messaging registered for the browser's own
HOME, and the portal added in the extension's options page as a user would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.e2e_env import Environment, build_environment, journey_documents
from tests.support.firefox import ADDON_ID, Firefox, wait_for, write_firefox_native_host


@pytest.fixture(scope="package")
def ff_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    environment = build_environment(tmp_path_factory.mktemp("ff-e2e"))
    try:
        yield environment
    finally:
        environment.close()


@pytest.fixture(scope="package")
def ff_documents(ff_env: Environment) -> dict[str, bytes]:
    docs = journey_documents()
    ff_env.files.update(docs)
    return docs


@pytest.fixture(scope="package")
def firefox(ff_env: Environment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firefox]:
    browser = Firefox(tmp_path_factory.mktemp("firefox"))
    write_firefox_native_host(browser.home, ff_env.agent.home, ff_env.agent.env)
    try:
        browser.start()
        assert browser.install_extension() == ADDON_ID
        browser.learn_extension_origin()
        allow_site(browser, ff_env.portal.origin)
        yield browser
    except BaseException:
        print(browser.log_tail())
        raise
    finally:
        browser.close()


def allow_site(browser: Firefox, origin: str) -> None:
    """The user adds the portal in the extension's options page (and the page shows the agent connected)."""
    from marionette_driver.by import By

    m = browser.client
    handle = browser.open_extension_tab("ui/options.html")
    m.switch_to_window(handle)
    # The page lists the tokens only once the extension reached the agent (native messaging + WebSocket).
    wait_for(m, lambda _: m.find_elements(By.CSS_SELECTOR, "#tokens li"), "the agent's tokens")
    m.find_element(By.ID, "new-site").send_keys(origin)
    m.find_element(By.ID, "add-site").click()
    wait_for(m, lambda _: origin in m.find_element(By.ID, "sites").text, "the site in the list")
    m.close()
    m.switch_to_window(m.window_handles[0])
