"""Key material and pictures for a seal holder made on the spot (tests and benchmarks)."""

from __future__ import annotations

import io
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
