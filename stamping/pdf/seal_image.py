"""The seal picture as a compact PDF image: an indexed-colour image with a 4-bit soft mask.

Seal pictures are one ink colour (or a few) with soft edges, so the colour part quantises to a small
palette and the coverage (alpha) to 16 levels without visible loss. Both parts are encoded by Pillow as
PNG and their IDAT data is used as the PDF stream directly: a FlateDecode stream with PNG predictors
(/Predictor 15) is exactly the concatenated IDAT payload of a non-interlaced PNG (ISO 32000-1 §7.4.4.4),
so every reader (pdfium, poppler, MuPDF, Acrobat) decodes it and the predictors keep it small.

zlib's default level, not its highest: on a seal picture level 9 took 30-55 ms (its long match chains on
very repetitive rows) for streams 4-9 % smaller, about 1 KB; the pixels are the same either way. An
encoding is kept per picture content (a batch, the agent and each seal of a request meet the same few
pictures again), so a picture is encoded once per process.
"""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

_MAX_COLOURS = 16
_ALPHA_LEVELS = 16
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ZLIB_LEVEL = 6
_CACHE_SIZE = 32


@dataclass(frozen=True)
class EncodedSealImage:
    width: int
    height: int
    palette: bytes  # RGB triples, one per index
    bits: int  # bits per index in `colour`
    colour: bytes  # FlateDecode + PNG predictor data of the index image
    alpha: bytes  # FlateDecode + PNG predictor data of the 4-bit DeviceGray soft mask


class _EncodedCache:
    """The encodings of the last few pictures, keyed by their pixels (SHA-256 of mode, size and bytes)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, EncodedSealImage] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(rgba: Image.Image) -> bytes:
        h = hashlib.sha256(f"{rgba.mode} {rgba.width}x{rgba.height} ".encode("ascii"))
        h.update(rgba.tobytes())
        return h.digest()

    def get(self, key: bytes) -> EncodedSealImage | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: bytes, value: EncodedSealImage) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_ENCODED = _EncodedCache(_CACHE_SIZE)


def encode_seal_image(rgba: Image.Image) -> EncodedSealImage:
    """Split an RGBA picture into palette indices and a 16-level coverage mask, both PNG-predicted
    (the same picture again: the encoding made the first time)."""
    rgba = rgba.convert("RGBA")
    key = _EncodedCache.key(rgba)
    found = _ENCODED.get(key)
    if found is None:
        found = _encode(rgba)
        _ENCODED.put(key, found)
    return found


def _encode(rgba: Image.Image) -> EncodedSealImage:
    alpha = rgba.getchannel("A")
    # Colour under fully transparent pixels is invisible: paint it with the ink colour so the index
    # image is as uniform as possible (a one-colour seal then compresses to almost nothing).
    ink = _dominant_colour(rgba)
    rgb = Image.new("RGB", rgba.size, ink)
    rgb.paste(rgba.convert("RGB"), mask=alpha.point(lambda v: 255 if v else 0))
    indexed = rgb.quantize(colors=_MAX_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    used = max(indexed.getextrema()[1] + 1, 2)
    palette = bytes(indexed.getpalette()[: 3 * used])  # type: ignore[index]
    bits = 1 if used <= 2 else 2 if used <= 4 else 4
    levels = alpha.point(lambda v: round(v * (_ALPHA_LEVELS - 1) / 255))
    mask = Image.frombytes("P", levels.size, levels.tobytes())
    mask.putpalette(bytes(i * 17 for i in range(_ALPHA_LEVELS) for _ in range(3)))
    return EncodedSealImage(
        width=rgba.width,
        height=rgba.height,
        palette=palette,
        bits=bits,
        colour=_png_idat(indexed, bits),
        alpha=_png_idat(mask, 4),
    )


def _dominant_colour(rgba: Image.Image) -> tuple[int, int, int]:
    opaque = rgba.convert("RGB").quantize(colors=4, method=Image.Quantize.MEDIANCUT)
    weights = opaque.histogram()
    mask = rgba.getchannel("A").point(lambda v: 255 if v >= 128 else 0)
    counted = opaque.histogram(mask=mask)
    best = max(range(len(counted)), key=lambda i: (counted[i], weights[i]))
    pal = opaque.getpalette() or [0, 0, 0]
    return (pal[3 * best], pal[3 * best + 1], pal[3 * best + 2])


def _png_idat(image: Image.Image, bits: int) -> bytes:
    """The zlib stream of a non-interlaced PNG of `image` (mode P) at `bits` per pixel."""
    out = io.BytesIO()
    image.save(out, format="PNG", bits=bits, compress_level=_ZLIB_LEVEL)
    data = out.getvalue()
    if not data.startswith(_PNG_MAGIC):
        raise ValueError("Pillow did not write a PNG")
    pos, idat, depth = len(_PNG_MAGIC), bytearray(), None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            depth, colour_type, interlace = body[8], body[9], body[12]
            if colour_type != 3 or interlace != 0:
                raise ValueError("expected a non-interlaced palette PNG")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != bits:
        raise ValueError(f"PNG written with {depth} bits per pixel, expected {bits}")
    zlib.decompress(bytes(idat))  # complete stream: no reader may see "premature end of data"
    return bytes(idat)
