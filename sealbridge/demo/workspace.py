"""The demo directory (./.demo by default): its layout, a clean re-run, the soft token, the agent's home and
config, and the native-messaging files that let Chromium with the extension pair with the demo agent.

    .demo/.sealbridge-demo          marker: only a directory carrying it is ever wiped
    .demo/demo.pid                  the running demo (a second demo on the same directory is refused)
    .demo/pki/                      dev PKI (agent.devpki): roots, signer keys and certificates
    .demo/central/                  central.db (SQLite), keys/, central.log, admin-token
    .demo/token/demo.soft, PIN      the demo company's soft token with the three platform-made seals
    .demo/home/                     SEALBRIDGE_HOME of the demo agent: config.json, data/, run/, agent.log
    .demo/documents/                sample form (PDF, OFD), stamped results, verification reports
    .demo/bin/                      sealbridge-native-host (wrapper), open-portal (starts Chromium)
    .demo/chromium-profile/         browser profile; kept across runs, NativeMessagingHosts/ rewritten
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.known_extensions import CHROMIUM_EXTENSION_ORIGIN
from agent.pairing import NATIVE_HOST_NAME, native_host_manifest
from formats.errors import SealBridgeError
from sealbridge.demo.processes import sealbridge_command, source_root

MARKER = ".sealbridge-demo"
KEEP = {"chromium-profile", MARKER}


@dataclass
class Workspace:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def central(self) -> Path:
        return self.root / "central"

    @property
    def token(self) -> Path:
        return self.root / "token" / "demo.soft"

    @property
    def pin_file(self) -> Path:
        return self.root / "token" / "PIN"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def documents(self) -> Path:
        return self.root / "documents"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def profile(self) -> Path:
        return self.root / "chromium-profile"

    @property
    def pid_file(self) -> Path:
        return self.root / "demo.pid"

    @property
    def config(self) -> Path:
        return self.home / "config.json"

    # -- preparing ---------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or clean the directory: everything of an earlier run goes except the browser profile."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise SealBridgeError("BAD_REQUEST", f"{root} exists and is not a directory")
        if root.is_dir() and any(root.iterdir()) and not (root / MARKER).exists():
            raise SealBridgeError(
                "CONFLICT",
                f"{root} is not empty and is not a SealBridge demo directory; choose another --dir",
            )
        self._refuse_running_demo()
        root.mkdir(parents=True, exist_ok=True)
        (root / MARKER).write_text(
            "SealBridge demo directory: `sealbridge demo` may delete and recreate it.\n"
        )
        for entry in root.iterdir():
            if entry.name in KEEP:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for d in (self.pki.parent, self.central, self.token.parent, self.home, self.documents, self.bin):
            d.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        self.pid_file.write_text(f"{os.getpid()}\n")

    def _refuse_running_demo(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        if pid == os.getpid():
            return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"demo" not in cmdline:
                return  # the pid was reused by something else
        raise SealBridgeError(
            "CONFLICT", f"a demo (pid {pid}) is still running on {self.root}; stop it first"
        )

    def release(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if int(self.pid_file.read_text().strip()) == os.getpid():
                self.pid_file.unlink()

    # -- the agent --------------------------------------------------------------------------------------

    def write_agent_config(
        self,
        *,
        port: int,
        portal_origin: str,
        platform_url: str,
        platform_anchor: Path,
        trust_anchor: Path,
        extra_sites: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "port": port,
            "allowed_origins": [CHROMIUM_EXTENSION_ORIGIN],
            # The demo portal is served over plain http on 127.0.0.1: allowed for this development setup only.
            "allow_insecure_sites": True,
            "site_policy": {portal_origin: "allowed"} | {site: "allowed" for site in extra_sites},
            "platform_url": platform_url,
            "platform_anchor": str(platform_anchor),
            "require_platform": True,
            "soft_tokens": [str(self.token)],
            "trust_anchors": [str(trust_anchor)],
        }
        self.config.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
        return cfg

    # -- the browser ------------------------------------------------------------------------------------

    def extension_dir(self) -> Path | None:
        ext = source_root() / "extension"
        return ext if (ext / "manifest.json").is_file() else None

    def write_native_host(self) -> Path:
        """A wrapper running `sealbridge native-host` for the demo's agent, and its host manifest in the
        Chromium profile's NativeMessagingHosts/ (Chromium reads it from there for that profile)."""
        wrapper = self.bin / "sealbridge-native-host"
        env = f"SEALBRIDGE_HOME={shlex.quote(str(self.home))} PYTHONPATH={shlex.quote(str(source_root()))}"
        cmd = " ".join(
            shlex.quote(a) for a in sealbridge_command("native-host", "--config", str(self.config))
        )
        wrapper.write_text(
            "#!/bin/sh\n"
            "# SealBridge demo: native-messaging host handing the extension the demo agent's port and secret.\n"
            f'{env} exec {cmd} "$@"\n'
        )
        wrapper.chmod(0o755)
        manifest = native_host_manifest(str(wrapper), [CHROMIUM_EXTENSION_ORIGIN])
        hosts = self.profile / "NativeMessagingHosts"
        hosts.mkdir(parents=True, exist_ok=True)
        path = hosts / f"{NATIVE_HOST_NAME}.json"
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        return path

    def browser_command(self, portal_url: str) -> list[str] | None:
        ext = self.extension_dir()
        if ext is None:
            return None
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
        cmd = [
            browser,
            f"--user-data-dir={self.profile}",
            f"--disable-extensions-except={ext}",
            f"--load-extension={ext}",
            "--no-first-run",
            "--no-default-browser-check",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        cmd.append(portal_url)
        return cmd

    def write_browser_launcher(self, portal_url: str) -> Path | None:
        cmd = self.browser_command(portal_url)
        if cmd is None:
            return None
        path = self.bin / "open-portal"
        path.write_text(
            "#!/bin/sh\n# Open the SealBridge demo portal in Chromium with the extension loaded.\n"
            f'exec {" ".join(shlex.quote(a) for a in cmd)} "$@"\n'
        )
        path.chmod(0o755)
        return path
