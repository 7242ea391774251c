"""Render an OFD page to an image, for previews (what the approval window shows before stamping).

A preview, not a conforming reader: paths, text (with the system CJK font, not the embedded fonts) and
raster images (MultiMedia resources of PublicRes/DocumentRes), templates behind or above the page.
Decoding is bounded: pictures above MAX_IMAGE_PIXELS and unreadable resources are skipped.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from formats.errors import SealBridgeError
from formats.ofd.document import OfdDocument, Page
from formats.ofd.locs import resolve
from formats.ofd.package import OfdPackage
from formats.ofd.vector import default_font, draw_content
from formats.ofd.xmlsafe import attr, child, child_text, children, descendants

MAX_IMAGE_PIXELS = 40_000_000
#: All images decoded for one page together: each tiny PNG may declare tens of megapixels, and a page can
#: name hundreds of them, so a per-image bound alone lets one hostile page take gigabytes.
MAX_TOTAL_IMAGE_PIXELS = 60_000_000
MAX_IMAGE_BYTES = 64 << 20
MAX_CANVAS_PIXELS = 4000 * 4000


def media_map(pkg: OfdPackage, doc: OfdDocument) -> dict[str, str]:
    """Resource ID → absolute package path of every MultiMedia in the document's resource files."""
    root = pkg.xml(doc.root_path)
    common = child(root, "CommonData")
    out: dict[str, str] = {}
    if common is None:
        return out
    for kind in ("PublicRes", "DocumentRes"):
        for el in children(common, kind):
            loc = (el.text or "").strip()
            if not loc:
                continue
            res_path = resolve(loc, doc.root_path)
            if not pkg.exists(res_path):
                continue
            res = pkg.xml(res_path)
            base = attr(res, "BaseLoc")
            anchor = resolve(base.rstrip("/") + "/_", res_path) if base else res_path
            for media in descendants(res, "MultiMedia"):
                file_loc = child_text(media, "MediaFile")
                if file_loc:
                    try:
                        out[attr(media, "ID")] = resolve(file_loc, anchor)
                    except SealBridgeError:
                        continue  # a location outside the package: that picture is not drawn
    return out


class _Images:
    """Decode each image resource once per render, within bounds."""

    def __init__(self, pkg: OfdPackage, media: dict[str, str]) -> None:
        self.pkg, self.media = pkg, media
        self.cache: dict[str, Image.Image | None] = {}
        self.pixels = 0  # decoded so far in this render

    def __call__(self, resource_id: str) -> Image.Image | None:
        if resource_id not in self.cache:
            self.cache[resource_id] = self._load(resource_id)
        return self.cache[resource_id]

    def _load(self, resource_id: str) -> Image.Image | None:
        path = self.media.get(resource_id)
        if not path or not self.pkg.exists(path):
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(self.pkg.read(path, MAX_IMAGE_BYTES)))
                pixels = img.width * img.height
                if pixels > MAX_IMAGE_PIXELS or self.pixels + pixels > MAX_TOTAL_IMAGE_PIXELS:
                    return None
                self.pixels += pixels  # counted before decoding: a failed decode still used the budget
                img.load()
                return img
        except (OSError, ValueError, SyntaxError, EOFError, SealBridgeError, Image.DecompressionBombError,
                Image.DecompressionBombWarning):  # fmt: skip
            return None


def render_page(
    pkg: OfdPackage, doc: OfdDocument, page: Page, px_per_mm: float, media: dict[str, str]
) -> Image.Image:
    """One page as an RGBA image on white, `px_per_mm` pixels per millimetre (reduced for huge pages)."""
    area = page.width * page.height * px_per_mm * px_per_mm
    if area > MAX_CANVAS_PIXELS:
        px_per_mm *= (MAX_CANVAS_PIXELS / area) ** 0.5
    size = (max(1, round(page.width * px_per_mm)), max(1, round(page.height * px_per_mm)))
    canvas = Image.new("RGBA", size, (255, 255, 255, 255))
    font = default_font()
    images = _Images(pkg, media)
    budget = [20_000]
    parts = [p for p, z in page.templates if z.lower() != "foreground"]
    parts += [page.content] if page.content else []
    parts += [p for p, z in page.templates if z.lower() == "foreground"]
    for path in parts:
        if pkg.exists(path):
            draw_content(canvas, pkg.xml(path), px_per_mm, font, images, budget)
    return canvas
