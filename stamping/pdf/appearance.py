"""The seal picture as a widget appearance: a transparent image at its true size, no border, no text.

Each widget's normal appearance (/AP /N) is a form XObject with /BBox [0 0 w h] that paints one image
XObject (seal_image: indexed colour + soft mask) over the whole box. Widgets showing the same crop share
the image object, also across the seals of one request (each a later incremental update of the same file). Strips of a riding seam are crops of the same picture. On pages shown
turned by /Rotate the picture is turned the other way, so the seal stands upright for the reader.
Pictures sharper than needed are reduced to _PX_PER_MM at their true size (above 300 dpi).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageChops
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from formats.errors import SealBridgeError
from stamping.pdf.seal_image import EncodedSealImage, encode_seal_image
from stamping.sealview import picture_png

# A picture without an alpha channel (JPEG, BMP, an opaque PNG) has paper-white around the seal:
# pixels this close to white become transparent so the text under the seal stays readable.
_WHITE_THRESHOLD = 235
_MAX_PIXELS = 4096 * 4096
# 12 px/mm is 305 dpi: print quality. Sharper pictures only make the PDF bigger.
_PX_PER_MM = 12.0
_REDUCE_ABOVE_PX_PER_MM = 16.0


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


@lru_cache(maxsize=16)
def seal_picture(picture_type: str, data: bytes, width_mm: float, height_mm: float) -> Image.Image:
    """The seal picture ready to draw: decoded (load_seal_image) at the resolution it is drawn with
    (fit_resolution). Kept per picture: a batch, the agent and each seal of a request meet the same few
    again, and the CLI prepares it while the token unlocks. Shared, so callers must not modify it."""
    return fit_resolution(load_seal_image(picture_type, data), width_mm, height_mm)


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


def fit_resolution(img: Image.Image, width_mm: float, height_mm: float) -> Image.Image:
    """The picture at about _PX_PER_MM for its true size, when it is much sharper than that."""
    if width_mm <= 0 or height_mm <= 0:
        return img
    if img.width / width_mm <= _REDUCE_ABOVE_PX_PER_MM and img.height / height_mm <= _REDUCE_ABOVE_PX_PER_MM:
        return img
    size = (max(1, round(width_mm * _PX_PER_MM)), max(1, round(height_mm * _PX_PER_MM)))
    return img.resize(size, Image.LANCZOS)


class AppearanceFactory:
    """Makes the seal appearances for one seal picture: one encoded image and one image object per crop."""

    def __init__(self, image: Image.Image) -> None:
        self._image = image
        self._encoded: dict[Crop, EncodedSealImage] = {}
        # (object number, generation) of each crop's image, once written. The seals of one request are
        # successive incremental updates of the same file, so a later revision can point at the image an
        # earlier one wrote instead of carrying it again (the earlier objects stay unchanged).
        self._image_ids: dict[Crop, tuple[int, int]] = {}

    def encoded(self, crop: Crop) -> EncodedSealImage:
        enc = self._encoded.get(crop)
        if enc is None:
            enc = self._encoded[crop] = encode_seal_image(crop_image(self._image, crop))
        return enc

    def style(self, crop: Crop) -> SealStampStyle:
        """For pyHanko's PdfSigner(stamp_style=...): it draws the first widget with this."""
        return SealStampStyle(self, crop)

    def apply(
        self,
        writer: BasePdfFileWriter,
        annot: generic.DictionaryObject,
        crop: Crop,
        width_pt: float,
        height_pt: float,
    ) -> None:
        """Give a widget annotation its /AP /N."""
        form = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(0), generic.NumberObject(0), _num(width_pt), _num(height_pt)]
                ),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {
                        pdf_name("/XObject"): generic.DictionaryObject(
                            {pdf_name("/Seal"): self._image_ref(writer, crop)}
                        )
                    }
                ),
            },
            stream_data=f"q {_fmt(width_pt)} 0 0 {_fmt(height_pt)} 0 0 cm /Seal Do Q".encode("ascii"),
        )
        annot[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(form)})

    def _image_ref(self, writer: BasePdfFileWriter, crop: Crop) -> generic.IndirectObject:
        known = self._image_ids.get(crop)
        if known is not None:
            return generic.IndirectObject(known[0], known[1], writer)
        ref = _add_image(writer, self.encoded(crop))
        self._image_ids[crop] = (ref.idnum, ref.generation)
        return ref


class SealStampStyle:
    """The part of pyHanko's stamp-style interface its signer uses: create_stamp(...).apply_appearance."""

    def __init__(self, factory: AppearanceFactory, crop: Crop) -> None:
        self._factory, self._crop = factory, crop

    def create_stamp(self, writer: BasePdfFileWriter, box: object, text_params: object) -> _SealStamp:
        return _SealStamp(self._factory, self._crop, writer)


class _SealStamp:
    def __init__(self, factory: AppearanceFactory, crop: Crop, writer: BasePdfFileWriter) -> None:
        self._factory, self._crop, self._writer = factory, crop, writer

    def apply_appearance(self, annot: generic.DictionaryObject) -> None:
        x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
        self._factory.apply(self._writer, annot, self._crop, abs(x1 - x0), abs(y1 - y0))


def _add_image(writer: BasePdfFileWriter, enc: EncodedSealImage) -> generic.IndirectObject:
    def image(colour_space: generic.PdfObject, bits: int, data: bytes, colors: int = 1) -> dict:
        return {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(enc.width),
            pdf_name("/Height"): generic.NumberObject(enc.height),
            pdf_name("/ColorSpace"): colour_space,
            pdf_name("/BitsPerComponent"): generic.NumberObject(bits),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
            pdf_name("/DecodeParms"): generic.DictionaryObject(
                {
                    pdf_name("/Predictor"): generic.NumberObject(15),
                    pdf_name("/Colors"): generic.NumberObject(colors),
                    pdf_name("/BitsPerComponent"): generic.NumberObject(bits),
                    pdf_name("/Columns"): generic.NumberObject(enc.width),
                }
            ),
        }

    smask = generic.StreamObject(image(pdf_name("/DeviceGray"), 4, enc.alpha), encoded_data=enc.alpha)
    indexed = generic.ArrayObject(
        [
            pdf_name("/Indexed"),
            pdf_name("/DeviceRGB"),
            generic.NumberObject(len(enc.palette) // 3 - 1),
            generic.ByteStringObject(enc.palette),
        ]
    )
    colour = image(indexed, enc.bits, enc.colour)
    colour[pdf_name("/SMask")] = writer.add_object(smask)
    return writer.add_object(generic.StreamObject(colour, encoded_data=enc.colour))


def _num(v: float) -> generic.PdfObject:
    return generic.FloatObject(round(v, 4))


def _fmt(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")
