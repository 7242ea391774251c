"""Steps the browser tests repeat: drive the portal page's SDK, catch the approval window, run the CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.e2e_env import EXTENSION_DIR, EXTENSION_ID, REPO, SEALBRIDGE, Environment

ARTIFACTS = REPO / "test-artifacts"
APPROVE_URL = f"chrome-extension://{EXTENSION_ID}/ui/approve.html"
VERIFY_URL = f"chrome-extension://{EXTENSION_ID}/ui/verify.html"
SITE_PROMPT_URL = f"chrome-extension://{EXTENSION_ID}/ui/site.html"


class Browser:
    """The persistent Chromium context with the extension, and the steps the tests repeat."""

    def __init__(self, context: Any, env: Environment):
        self.context = context
        self.env = env
        self.opened: list[Any] = []  # every page the context opened, approval windows included
        context.on("page", lambda page: self.opened.append(page))

    @property
    def worker(self) -> Any:
        workers = [w for w in self.context.service_workers if EXTENSION_ID in w.url]
        return workers[0] if workers else self.context.wait_for_event("serviceworker", timeout=15_000)

    def approval_windows(self) -> list[Any]:
        return [p for p in self.opened if p.url.startswith(APPROVE_URL)]

    def site_prompts(self) -> list[Any]:
        return [p for p in self.opened if p.url.startswith(SITE_PROMPT_URL)]

    def start_and_wait_for_prompt(self, page: Any, name: str, js_call: str) -> Any:
        """Start a call from a site new to the user and return the extension's site prompt, loaded."""
        with self.context.expect_page(lambda p: p.url.startswith(SITE_PROMPT_URL), timeout=30_000) as info:
            self.start_job(page, name, js_call)
        prompt = info.value
        prompt.wait_for_selector("body[data-state=ready]", timeout=30_000)
        return prompt

    @staticmethod
    def answer_prompt(prompt: Any, button: str) -> None:
        """Click once / always / deny; the prompt closes itself on the answer, maybe while the click returns."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            prompt.click(button)
        except PlaywrightError:
            if not prompt.is_closed():
                raise
        if not prompt.is_closed():
            prompt.wait_for_event("close", timeout=10_000)

    def open_portal(self, origin: str | None = None) -> Any:
        page = self.context.new_page()
        page.goto(f"{origin or self.env.portal.origin}/index.html")
        page.wait_for_function("window.portalReady === true", timeout=10_000)
        return page

    @staticmethod
    def start_job(page: Any, name: str, js_call: str) -> None:
        page.evaluate(f"window.runJob({json.dumps(name)}, () => {js_call})")

    @staticmethod
    def job(page: Any, name: str, timeout: float = 60_000) -> dict[str, Any]:
        page.wait_for_function(f"window.jobs[{json.dumps(name)}] != null", timeout=timeout)
        return page.evaluate(f"window.jobs[{json.dumps(name)}]")

    @staticmethod
    def jobs_pending(page: Any, name: str) -> bool:
        return page.evaluate(f"window.jobs[{json.dumps(name)}] === null")

    def run(self, page: Any, js_call: str, timeout: float = 60_000) -> dict[str, Any]:
        name = f"job{time.monotonic_ns()}"
        self.start_job(page, name, js_call)
        return self.job(page, name, timeout)

    def stamp_and_wait_for_window(self, page: Any, name: str, js_call: str) -> Any:
        """Start a stamp on the page and return its approval window, loaded (preview drawn or failed)."""
        with self.context.expect_page(lambda p: p.url.startswith(APPROVE_URL), timeout=30_000) as info:
            self.start_job(page, name, js_call)
        window = info.value
        window.wait_for_load_state()
        # Extension pages forbid eval (CSP), so wait on selectors, not on JavaScript predicates.
        window.wait_for_selector("body[data-state=ready]", timeout=30_000)
        return window


def sealbridge_verify(env: Environment, path: Path) -> dict[str, Any]:
    """`sealbridge verify --json --trust … --platform …` on a file, as a user would run it."""
    out = subprocess.run(
        [
            *SEALBRIDGE,
            "verify",
            str(path),
            "--json",
            "--trust",
            str(env.trust_dir),
            "--platform",
            env.central_url,
        ],
        cwd=REPO,
        env=env.agent.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise AssertionError(
            f"sealbridge verify printed no JSON ({out.returncode}): {out.stdout}{out.stderr}"
        ) from None


def save_artifact(name: str, data: bytes) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    return path


def b64decode(s: str) -> bytes:
    return base64.b64decode(s)


CHROMIUM = "/usr/bin/chromium"


def launch(pw: Any, env: Environment, user_data_dir: Path) -> Any:
    """The system Chromium, headless, with the unpacked extension and the test portals counted as public."""
    extension = str(EXTENSION_DIR)
    ports = [env.portal.port, env.stranger.port, env.agent_denied.port]
    overrides = ",".join(f"127.0.0.1:{p}=public" for p in ports)
    return pw.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        viewport={"width": 1000, "height": 900},
        locale="zh-CN",
        args=[
            f"--disable-extensions-except={extension}",
            f"--load-extension={extension}",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=zh-CN",
            f"--ip-address-space-overrides={overrides}",
        ],
    )


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def seal_options(window) -> list[str]:
    # One read in the page: the chooser is re-rendered on token events, so reading option by option can race it.
    return window.eval_on_selector_all("#seal option", "options => options.map(o => o.value)")


def click_to_close(window, selector: str = "#cancel") -> None:  # type: ignore[no-untyped-def]
    """Click a button whose handler closes its own window (Cancel, Close). On a busy machine the window can
    be gone before Playwright has finished the click (it then raises "Target page ... has been closed"):
    that is what the button is for, not an error. The test checks what the click did (the job's result)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        window.click(selector, no_wait_after=True)
    except PlaywrightError:
        if not window.is_closed():
            raise
