"""Hostile documents sent to the platform's public /api/v1/verify: HTTP 4xx or a report, memory bounded."""

from __future__ import annotations

from pathlib import Path

from tests.central.helpers import http
from tests.support.hostile import deep_trailer, ofd_zip_bomb, stamped_pdf

MIB = 1 << 20


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_verify_zip_bomb_bounded(central, samples):
    url, _, handle = central
    code, body = http("POST", f"{url}/api/v1/verify", raw=ofd_zip_bomb(samples))
    if code == 200:
        assert body["extra"].get("document_error"), body
    else:
        assert code == 400 and body["error"]["code"] in ("DOC_MALFORMED", "DOC_TOO_LARGE"), body
    peak = _peak_rss(handle.proc.pid)
    assert peak < 600 * MIB, f"the platform peaked at {peak / MIB:.0f} MiB"


def test_verify_deep_nesting_is_400(central, dev_pki, tmp_path):
    url, _, _ = central
    deep = deep_trailer(stamped_pdf(dev_pki, tmp_path))
    code, body = http("POST", f"{url}/api/v1/verify", raw=deep)
    assert code == 400 and body["error"]["code"] == "DOC_MALFORMED", (code, body)
