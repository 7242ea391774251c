"""Debian's firefox-esr, headless, driven by Mozilla's own Marionette client (PyPI marionette-driver, MPL-2.0).

The browser runs with its own HOME so the native-messaging host manifest lands where Firefox on Linux looks
for a user's hosts (~/.mozilla/native-messaging-hosts/<name>.json; Firefox has no per-profile location) and
nothing of the real user's is touched. The extension is installed from extension/ as a temporary add-on. Its
moz-extension:// origin is random per install; the tests read it from Firefox (WebExtensionPolicy) through
Marionette's chrome context, which needs -remote-allow-system-access. Marionette refuses to navigate a web
tab to a moz-extension:// URL, so extension pages are opened as trusted tabs from the chrome context.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.e2e_env import EXTENSION_DIR, free_port, write_host_wrapper

FIREFOX = "firefox-esr"
ADDON_ID = "sealbridge@sealbridge.dev"
HOST_NAME = "cn.sealbridge.agent"


def write_firefox_native_host(home: Path, agent_home: Path, env: dict[str, str]) -> Path:
    """The host manifest in <home>/.mozilla/native-messaging-hosts and the wrapper script it names."""
    wrapper = write_host_wrapper(agent_home / "native-host-firefox.sh", env)
    hosts = home / ".mozilla" / "native-messaging-hosts"
    hosts.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": HOST_NAME,
        "description": "SealBridge agent pairing (Firefox e2e)",
        "path": str(wrapper),
        "type": "stdio",
        "allowed_extensions": [ADDON_ID],
    }
    path = hosts / f"{HOST_NAME}.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path


@dataclass
class Firefox:
    base: Path
    marionette_port: int = field(default_factory=free_port)
    extension_host: str = ""
    proc: subprocess.Popen[bytes] | None = None
    client: Any = None

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def profile(self) -> Path:
        return self.base / "profile"

    @property
    def extension_origin(self) -> str:
        return f"moz-extension://{self.extension_host}"

    def url(self, path: str) -> str:
        return f"{self.extension_origin}/{path}"

    def _write_prefs(self) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        prefs = {
            "marionette.port": self.marionette_port,
            "intl.locale.requested": "zh-CN",
            "intl.accept_languages": "zh-CN, zh, en",
            "browser.shell.checkDefaultBrowser": False,
            "browser.startup.homepage_override.mstone": "ignore",
            "browser.aboutwelcome.enabled": False,
            "datareporting.policy.dataSubmissionEnabled": False,
            "toolkit.telemetry.reportingpolicy.firstRun": False,
            "app.update.disabledForTesting": True,
            "extensions.autoDisableScopes": 0,
            "network.proxy.type": 0,
            # The extension's console (background errors included) goes to firefox.log.
            "devtools.console.stdout.chrome": True,
            "devtools.console.stdout.content": True,
            # The approval window is a popup the extension opens; keep popups as real windows.
            "browser.link.open_newwindow.restriction": 0,
        }
        lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
        (self.profile / "user.js").write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 60.0) -> Any:
        from marionette_driver.marionette import Marionette

        exe = shutil.which(FIREFOX)
        if exe is None:
            raise RuntimeError(f"{FIREFOX} is not installed (make test installs Debian's firefox-esr)")
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_prefs()
        env = dict(os.environ, HOME=str(self.home), MOZ_HEADLESS="1", LANG="C.UTF-8")
        env.pop("DISPLAY", None)
        log = open(self.base / "firefox.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                exe,
                "--marionette",
                "-remote-allow-system-access",
                "--headless",
                "--no-remote",
                "--profile",
                str(self.profile),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = Marionette(host="127.0.0.1", port=self.marionette_port)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"firefox exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                client.raise_for_port(timeout=2)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Marionette did not open in {timeout} s: {self.log_tail()}") from None
        client.start_session()
        self.client = client
        return client

    def install_extension(self) -> str:
        from marionette_driver.addons import Addons

        return Addons(self.client).install(str(EXTENSION_DIR), temp=True)

    def learn_extension_origin(self) -> str:
        with self.client.using_context("chrome"):
            self.extension_host = self.client.execute_script(
                "return WebExtensionPolicy.getByID(arguments[0]).mozExtensionHostname", script_args=[ADDON_ID]
            )
        return self.extension_origin

    def open_extension_tab(self, path: str) -> str:
        """Open an extension page in a new tab; returns its window handle (not switched to)."""
        before = set(self.client.window_handles)
        with self.client.using_context("chrome"):
            self.client.execute_script(
                "window.openTrustedLinkIn(arguments[0], 'tab')", script_args=[self.url(path)]
            )
        return self.wait_for_handle(lambda h: h not in before)

    def wait_for_handle(self, pick: Any, timeout: float = 30.0) -> str:
        from marionette_driver import Wait

        def found(m: Any) -> str | None:
            return next((h for h in m.window_handles if pick(h)), None)

        return Wait(self.client, timeout=timeout).until(found, message="no new browser window or tab")

    def handle_with_url(self, prefix: str, timeout: float = 30.0) -> str:
        """The window/tab whose page URL starts with `prefix` (switching through the handles to look)."""
        from marionette_driver import Wait

        m = self.client
        current = m.current_window_handle

        def look(_: Any) -> str | None:
            for h in m.window_handles:
                m.switch_to_window(h, focus=False)
                if m.get_url().startswith(prefix):
                    return h
            return None

        try:
            return Wait(m, timeout=timeout).until(look, message=f"no window showing {prefix}")
        finally:
            m.switch_to_window(current, focus=False)

    def log_tail(self, n: int = 3000) -> str:
        path = self.base / "firefox.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.delete_session()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
            self.client = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def wait_for(m: Any, predicate: Any, what: str, timeout: float = 60.0) -> Any:
    """Marionette's own Wait (it polls: Marionette has no event for page state)."""
    from marionette_driver import Wait
    from marionette_driver.errors import NoSuchElementException

    return Wait(m, timeout=timeout, ignored_exceptions=NoSuchElementException).until(predicate, message=what)
