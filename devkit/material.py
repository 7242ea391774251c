"""Key material and pictures for a seal holder made on the spot (tests and benchmarks)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any


def imprint_png(size: int = 120) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    ImageDraw.Draw(img).ellipse((4, 4, size - 4, size - 4), outline=(220, 0, 0, 255), width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_cert(common_name: str = "张三", days: int = 365) -> tuple[Any, bytes]:
    """(SM2PrivateKey, self-signed certificate DER) for a seal holder."""
    from formats.gm import SM2PrivateKey
    from formats.x509 import build_certificate

    key = SM2PrivateKey.generate()
    now = datetime.now(UTC)
    cert = build_certificate(
        {"common_name": common_name, "organization_name": "测试有限公司"},
        key.public_key,
        None,
        key,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=days),
    )
    return key, cert


def big_pdf(size: int) -> bytes:
    """A one-page PDF carrying `size` bytes of incompressible image data (a real, valid file)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    side = int((size / 3) ** 0.5)
    img = pikepdf.Stream(pdf, os.urandom(side * side * 3))
    img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    img.Width, img.Height, img.BitsPerComponent = side, side, 8
    img.ColorSpace = pikepdf.Name.DeviceRGB
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=img))
    page.Contents = pdf.make_stream(b"q 200 0 0 200 100 300 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()
