"""The seal picture as a widget appearance: a transparent image at its true size, no border, no text.

pyHanko draws it (StaticStampStyle with a PdfImage background, margins 0, border 0, full opacity).
Strips of a riding seam are crops of the same picture. On pages shown turned by /Rotate the picture is
turned the other way, so the seal stands upright for the reader.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import StaticStampStyle

from formats.errors import SealBridgeError
from stamping.sealview import picture_png

# A picture without an alpha channel (JPEG, BMP, an opaque PNG) has paper-white around the seal:
# pixels this close to white become transparent so the text under the seal stays readable.
_WHITE_THRESHOLD = 235
_MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class Crop:
    """Which part of the picture to draw, as fractions of its width and height (0..1), then a turn."""

    left: float = 0.0
    top: float = 0.0
    right: float = 1.0
    bottom: float = 1.0
    turn: int = 0  # the page's /Rotate; the picture is turned counter-clockwise by this much

    @property
    def is_whole(self) -> bool:
        return (self.left, self.top, self.right, self.bottom) == (0.0, 0.0, 1.0, 1.0)


def load_seal_image(picture_type: str, data: bytes) -> Image.Image:
    """Decode the seal picture to RGBA with a transparent background."""
    png = picture_png(picture_type, data)
    if not png:
        raise SealBridgeError(
            "SEAL_INVALID", f"the seal picture (type {picture_type!r}) cannot be drawn as an image"
        )
    try:
        with Image.open(io.BytesIO(png)) as img:
            if img.width * img.height > _MAX_PIXELS:
                raise SealBridgeError(
                    "SEAL_INVALID", f"seal picture of {img.width}x{img.height} pixels is too large"
                )
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            rgba = img.convert("RGBA")
    except SealBridgeError:
        raise
    except Exception as exc:  # Pillow raises many types on damaged images
        raise SealBridgeError("SEAL_INVALID", f"unreadable seal picture: {type(exc).__name__}") from None
    if not has_alpha:
        rgba = _white_to_transparent(rgba)
    return rgba


def _white_to_transparent(img: Image.Image) -> Image.Image:
    r, g, b, _ = img.split()
    # A pixel stays if any channel is below the threshold (red ink has low green and blue).
    darkest = ImageChops.darker(ImageChops.darker(r, g), b)
    img.putalpha(darkest.point(lambda v: 0 if v >= _WHITE_THRESHOLD else 255))
    return img


def crop_image(img: Image.Image, crop: Crop) -> Image.Image:
    out = img
    if not crop.is_whole:
        box = (
            round(crop.left * img.width),
            round(crop.top * img.height),
            max(round(crop.right * img.width), round(crop.left * img.width) + 1),
            max(round(crop.bottom * img.height), round(crop.top * img.height) + 1),
        )
        out = img.crop(box)
    if crop.turn:
        # PIL turns counter-clockwise; the page is shown turned clockwise by /Rotate.
        out = out.rotate(crop.turn, expand=True)
    return out


class AppearanceFactory:
    """Makes pyHanko stamp styles for one seal picture, one per distinct crop (cached)."""

    def __init__(self, image: Image.Image) -> None:
        self._image = image
        self._styles: dict[tuple[Crop, float, float], StaticStampStyle] = {}

    def style(self, crop: Crop, width_pt: float, height_pt: float) -> StaticStampStyle:
        key = (crop, round(width_pt, 3), round(height_pt, 3))
        style = self._styles.get(key)
        if style is None:
            picture = PdfImage(crop_image(self._image, crop), box=layout.BoxConstraints(width_pt, height_pt))
            style = StaticStampStyle(
                border_width=0,
                background=picture,
                background_opacity=1.0,
                background_layout=layout.SimpleBoxLayoutRule(
                    x_align=layout.AxisAlignment.ALIGN_MID,
                    y_align=layout.AxisAlignment.ALIGN_MID,
                    margins=layout.Margins.uniform(0),
                    inner_content_scaling=layout.InnerScaling.STRETCH_FILL,
                ),
            )
            self._styles[key] = style
        return style

    def apply(
        self,
        writer: BasePdfFileWriter,
        annot: generic.DictionaryObject,
        crop: Crop,
        width_pt: float,
        height_pt: float,
    ) -> None:
        """Give a widget annotation its /AP /N (used for the widgets pyHanko does not draw itself)."""
        stamp = self.style(crop, width_pt, height_pt).create_stamp(
            writer, layout.BoxConstraints(width=width_pt, height=height_pt), {}
        )
        stamp.apply_appearance(annot)
