"""Write the browser-facing files of the Debian package into a staging root.

Generated from the project's own constants (host name, pinned Chromium extension id, Firefox id) through
agent.pairing.native_host_manifest, so the package can never drift from what the agent and extension expect.

Usage: python write_host_files.py STAGING_ROOT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.known_extensions import CHROMIUM_EXTENSION_ID, CHROMIUM_EXTENSION_ORIGIN
from agent.pairing import NATIVE_HOST_NAME, native_host_manifest

FIREFOX_EXTENSION_ID = "sealbridge@sealbridge.dev"  # extension/manifest.json browser_specific_settings
HOST_EXECUTABLE = "/opt/sealbridge/bin/sealbridge-native-host"

# Where each browser looks for system-wide native-messaging host manifests on Linux.
CHROMIUM_FAMILY_DIRS = (
    "etc/chromium/native-messaging-hosts",  # Debian/UOS/Kylin Chromium
    "etc/opt/chrome/native-messaging-hosts",  # Google Chrome
    "etc/opt/edge/native-messaging-hosts",  # Microsoft Edge
)
FIREFOX_DIR = "usr/lib/mozilla/native-messaging-hosts"
POLICY_EXAMPLE = "usr/share/doc/sealbridge/examples/chromium-managed-policy.json"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path.chmod(0o644)


def _firefox_id_from_extension_manifest(repo: Path) -> str:
    """Cross-check the constant against the extension's manifest when the source tree is at hand."""
    manifest = repo / "extension" / "manifest.json"
    if manifest.is_file():
        gecko_id = json.loads(manifest.read_text(encoding="utf-8"))["browser_specific_settings"]["gecko"][
            "id"
        ]
        if gecko_id != FIREFOX_EXTENSION_ID:
            raise SystemExit(f"extension/manifest.json gecko id {gecko_id!r} != {FIREFOX_EXTENSION_ID!r}")
    return FIREFOX_EXTENSION_ID


def write_host_files(root: Path, repo: Path) -> list[Path]:
    written = []
    chrome = native_host_manifest(HOST_EXECUTABLE, [CHROMIUM_EXTENSION_ORIGIN])
    for rel in CHROMIUM_FAMILY_DIRS:
        path = root / rel / f"{NATIVE_HOST_NAME}.json"
        _write_json(path, chrome)
        written.append(path)
    firefox = native_host_manifest(HOST_EXECUTABLE, [], [_firefox_id_from_extension_manifest(repo)])
    path = root / FIREFOX_DIR / f"{NATIVE_HOST_NAME}.json"
    _write_json(path, firefox)
    written.append(path)
    # Managed storage for the extension (extension/managed-schema.json). Only an example: the package
    # force-allows nothing; an administrator edits the list and copies it (README.Debian).
    policy = {
        "3rdparty": {
            "extensions": {
                CHROMIUM_EXTENSION_ID: {
                    "allowedOrigins": ["https://portal.example.gov.cn"],
                    "deniedOrigins": [],
                }
            }
        }
    }
    path = root / POLICY_EXAMPLE
    _write_json(path, policy)
    written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for p in write_host_files(Path(sys.argv[1]), Path(__file__).resolve().parents[2]):
        print(f"  wrote {p}")
