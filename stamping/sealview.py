"""A parsed seal as the report shows it: esID, name, version, and the picture as PNG (base64).

Shared by the OFD and PDF verifiers. A plain PNG with transparency is shown as it is (formats.pngcheck),
other raster pictures (PNG/GIF/BMP/JPEG) decode in formats.picture, vector
"ofd" pictures (tax e-invoice seals) render in formats.ofd.vector; a picture that cannot be decoded is reported as None with a
reason, never as an error, because the seal's validity does not depend on it.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from formats.pngcheck import plain_transparent_png
from stamping.report import SealInfo, iso


def picture_png(picture_type: str, data: bytes) -> bytes | None:
    """PNG bytes of a seal picture, or None when it cannot be shown (see decode_png for why)."""
    return decode_png(picture_type, data)[0]


def decode_png(picture_type: str, data: bytes) -> tuple[bytes | None, str]:
    """(PNG bytes, "") or (None, why not)."""
    return _decode_png(picture_type, bytes(data))


@lru_cache(maxsize=64)
def _decode_png(picture_type: str, data: bytes) -> tuple[bytes | None, str]:
    # Once per picture and process: re-encoding a seal's PNG cost a quarter of verifying a one-page OFD,
    # and a batch (or the agent) meets the same few seals again and again.
    if (picture_type or "").strip().lower() in ("png", "") and plain_transparent_png(data):
        return data, ""  # already what the report shows: no Pillow to load, nothing to re-encode
    from formats.picture import decode_picture

    try:
        if (picture_type or "").strip().lower() == "ofd":
            from formats.ofd.vector import render_ofd_picture

            return render_ofd_picture(data), ""
        return decode_picture(picture_type, data)
    except Exception as exc:  # a damaged picture must not break a verification report
        return None, f"undecodable picture: {type(exc).__name__}"


def picture_note(seal: Any) -> dict[str, Any]:
    """For a report's extra: the picture's declared type and, when it is not shown, why."""
    pic = getattr(seal, "picture", None)
    if pic is None:
        return {"type": None, "note": "no picture"}
    png, why = decode_png(pic.type, pic.data)
    return {"type": pic.type, "note": "" if png else why}


def seal_info(seal: Any) -> SealInfo:
    """SealInfo for a formats.ses Seal (duck-typed: esid/esID, name, version, type, picture)."""
    pic = getattr(seal, "picture", None)
    png = picture_png(pic.type, pic.data) if pic is not None else None
    return SealInfo(
        esID=getattr(seal, "esid", None) or getattr(seal, "esID", ""),
        name=getattr(seal, "name", ""),
        version=int(getattr(seal, "version", 0)),
        type=getattr(seal, "type", None),
        picture_png_base64=base64.b64encode(png).decode("ascii") if png else None,
        picture_width_mm=float(pic.width_mm) if pic is not None else None,
        picture_height_mm=float(pic.height_mm) if pic is not None else None,
        made_at=iso(getattr(seal, "created", None)),
        valid_from=iso(getattr(seal, "valid_start", None)),
        valid_to=iso(getattr(seal, "valid_end", None)),
        maker=_maker_name(getattr(seal, "maker_cert", b"")),
    )


def _maker_name(cert_der: bytes) -> str | None:
    if not cert_der:
        return None
    try:
        from asn1crypto import x509

        from stamping.certnames import display_name

        return display_name(x509.Certificate.load(cert_der).subject) or None
    except Exception:  # noqa: BLE001 - a damaged maker certificate fails the seal check; no name here
        return None
