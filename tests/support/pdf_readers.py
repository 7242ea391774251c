"""The PDF engines recipients use, as test renderers: pdfium (pypdfium2), poppler (pdftoppm), MuPDF (mutool).

pdftoppm gets -cropbox (it shows the MediaBox by default, unlike viewers). poppler-utils and mupdf-tools are Debian packages (Makefile TEST_DEBS) run as external programs; MuPDF is
AGPL and never a dependency of the product. Every renderer returns the page as displayed (CropBox,
/Rotate applied) at helpers.SCALE pixels per point, so helpers.box_px maps placement boxes for all.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from tests.support.pdf_render import SCALE

# mutool prints this for every file when built without LittleCMS; it says nothing about the document.
_MUTOOL_BUILD_NOTE = "warning: ICC support is not available"


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        import pytest

        pytest.fail(f"{program} is not installed (Debian: see TEST_DEBS in the Makefile)")
    return path


def render(engine: str, pdf: bytes, page_index: int) -> Image.Image:
    if engine.startswith("pdfium"):
        return _pdfium(pdf, page_index, engine)
    if engine == "poppler":
        return _pdftoppm(pdf, page_index)
    if engine == "mupdf":
        return mutool_draw(pdf, page_index)[0]
    raise ValueError(engine)


def _pdfium(pdf: bytes, page_index: int, mode: str) -> Image.Image:
    """pdfium with its form layer (widgets are drawn only by it), on screen or for print."""
    doc = pdfium.PdfDocument(pdf)
    try:
        doc.init_forms()
        page = doc[page_index]
        flags = pdfium_c.FPDF_PRINTING if mode == "pdfium-print" else 0
        bitmap = page.render(scale=SCALE, may_draw_forms=True, extra_flags=flags)
        return bitmap.to_pil().convert("RGB")
    finally:
        doc.close()


def _pdftoppm(pdf: bytes, page_index: int) -> Image.Image:
    exe = require("pdftoppm")
    n = str(page_index + 1)
    dpi = str(round(72 * SCALE))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        proc = subprocess.run(
            [
                exe,
                "-cropbox",
                "-f",
                n,
                "-l",
                n,
                "-r",
                dpi,
                "-png",
                "-singlefile",
                str(src),
                str(Path(tmp) / "out"),
            ],
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        assert not proc.stderr.strip(), f"pdftoppm complained: {proc.stderr.decode(errors='replace')}"
        with Image.open(Path(tmp) / "out.png") as img:
            return img.convert("RGB")


def mutool_draw(pdf: bytes, page_index: int) -> tuple[Image.Image, list[str]]:
    """MuPDF's rendering and the warnings it printed about the document (the build note left out)."""
    exe = require("mutool")
    dpi = str(round(72 * SCALE))
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.pdf", Path(tmp) / "out.png"
        src.write_bytes(pdf)
        proc = subprocess.run(
            [exe, "draw", "-q", "-r", dpi, "-o", str(out), str(src), str(page_index + 1)],
            capture_output=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        notes = [
            line
            for line in proc.stderr.decode(errors="replace").splitlines()
            if line.strip() and line.strip() != _MUTOOL_BUILD_NOTE and not line.startswith("page ")
        ]
        with Image.open(out) as img:
            return img.convert("RGB"), notes


def run_tool(*args: str, data: bytes, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `args` with the PDF as its last argument (written to a temporary file)."""
    exe = require(args[0])
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(data)
        return subprocess.run(
            [exe, *args[1:], str(src)], capture_output=True, text=True, timeout=timeout, check=False
        )


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
