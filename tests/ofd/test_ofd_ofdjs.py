"""A stamped OFD opens in ofd.js (the JavaScript OFD viewer portals embed) in Chromium, and the seal shows
where we put it: seal-red pixels inside the placement box, none outside.

ofd.js comes from the npm registry into a cache directory (tests/support/ofdjs.py); the page that loads it
is served from loopback, the document is handed over as bytes.
"""

from __future__ import annotations

import base64
import functools
import io
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from stamping.ofd import stamp
from stamping.options import StampOptions
from stamping.placement import At
from tests.support.ofdjs import ensure_ofdjs
from tests.support.pdf_render import count, red_mask

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PAGE_PX = 794  # ofd.js scales the page to this width
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="ofd.umd.min.js"></script></head>
<body style="margin:0;background:#fff"><div id="out" style="display:inline-block"></div></body></html>"""
_RENDER = """(b64) => new Promise((resolve) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  ofd.parseOfdDocument({
    ofd: bytes.buffer,
    success(docs) {
      const pages = ofd.renderOfd(PAGE_WIDTH, docs[0]);
      for (const p of pages) document.getElementById("out").appendChild(p);
      resolve(pages.length);
    },
    fail(e) { resolve("failed: " + e); },
  });
})""".replace("PAGE_WIDTH", str(PAGE_PX))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ofdjs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ofdjs")
    lib = ensure_ofdjs()
    (root / "ofd.umd.min.js").write_bytes((lib / "ofd.umd.min.js").read_bytes())
    (root / "index.html").write_text(_PAGE, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _render(url: str, ofd: bytes) -> Image.Image:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": PAGE_PX + 50, "height": 1300})
            page.goto(url)
            pages = page.evaluate(_RENDER, base64.b64encode(ofd).decode())
            assert pages == 1, pages
            page.wait_for_load_state("networkidle")
            return Image.open(io.BytesIO(page.locator("#out > div").first.screenshot())).convert("RGB")
        finally:
            browser.close()


def test_ofdjs_draws_the_seal_in_its_box(ofdjs_url, ofd_samples, pki) -> None:  # type: ignore[no-untyped-def]
    data = (ofd_samples / "unsigned-helloworld.ofd").read_bytes()
    out = io.BytesIO()
    res = stamp(data, out, pki.signer, pki.seal, [At(page=1, x=60, y=90)], StampOptions())
    ((_, left, top, w, h),) = res.boxes
    img = _render(ofdjs_url, out.getvalue())
    px_per_mm = img.width / 210.0  # the sample is an A4 page
    assert abs(img.height / px_per_mm - 297) < 1.5, img.size
    mask = red_mask(img)
    total = count(mask)
    box = (left * px_per_mm, top * px_per_mm, (left + w) * px_per_mm, (top + h) * px_per_mm)
    inside = count(mask, box, margin=3)
    assert total > 500, "ofd.js drew no seal"
    assert inside >= total * 0.99, f"{total - inside} of {total} red pixels outside the box {box}"
    # and the seal is not shrunk: its red spans most of the box
    x0, y0, x1, y1 = mask.getbbox()
    assert (x1 - x0) > 0.85 * w * px_per_mm and (y1 - y0) > 0.85 * h * px_per_mm
