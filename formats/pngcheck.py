"""Is a seal picture already a plain PNG with transparency? Then a report can show it as it is.

A verification report carries each seal's picture as a transparent PNG. Most seals store exactly that (the
pictures SealBridge and most makers draw are PNGs with a palette and a transparent background), and
decoding it with Pillow only to encode the same pixels again costs loading Pillow (~15 ms) and the
re-encoding, on the path of a `sealbridge verify` the user waits for.

`plain_transparent_png` accepts a PNG only when a decoder reads it without surprises: the signature, every
chunk's CRC, a valid IHDR (no interlacing), the palette and transparency chunks where the colour type
wants them, consecutive IDAT chunks whose zlib stream inflates to exactly the rows the header promises
(each with a known filter type), IEND last and nothing after it, and no chunk but those and pHYs (no
text, no colour profile or gamma that would show differently once re-encoded). Anything else (an opaque
picture whose white must become transparent, GIF, BMP, JPEG, anything damaged) goes to formats.picture.
Pure bytes: zlib and struct only.
"""

from __future__ import annotations

import struct
import zlib

from .picture_limits import MAX_PICTURE_BYTES, MAX_PICTURE_PIXELS, MAX_PICTURE_PX

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: colour type -> (samples per pixel, bit depths it allows) (PNG specification §11.2.2)
_COLOUR_TYPES = {
    0: (1, (1, 2, 4, 8, 16)),
    2: (3, (8, 16)),
    3: (1, (1, 2, 4, 8)),
    4: (2, (8, 16)),
    6: (4, (8, 16)),
}
_ALLOWED_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"pHYs"})
_TRNS_LENGTH = {0: 2, 2: 6}  # grey and RGB: one key colour; palette: one alpha per entry (at most)


def plain_transparent_png(data: bytes) -> bool:
    if len(data) > MAX_PICTURE_BYTES or not data.startswith(_SIGNATURE):
        return False
    chunks = _chunks(data)
    if chunks is None or not chunks or chunks[0][0] != b"IHDR" or chunks[-1] != (b"IEND", b""):
        return False
    header = _header(chunks[0][1])
    if header is None:
        return False
    width, height, depth, colour = header
    kinds = [kind for kind, _ in chunks]
    idat = [i for i, kind in enumerate(kinds) if kind == b"IDAT"]
    if not idat or idat != list(range(idat[0], idat[-1] + 1)):
        return False  # no image data, or image data split by other chunks
    if any(kinds.count(kind) > 1 for kind in (b"IHDR", b"PLTE", b"tRNS", b"IEND", b"pHYs")):
        return False
    if kinds[idat[-1] + 1 :] != [b"IEND"]:
        return False  # every other chunk comes before the image data
    if b"PLTE" in kinds and b"tRNS" in kinds and kinds.index(b"tRNS") < kinds.index(b"PLTE"):
        return False
    found = dict(chunks)
    palette, trns = found.get(b"PLTE"), found.get(b"tRNS")
    if not _colours_fit(colour, depth, palette, trns):
        return False
    if colour not in (4, 6) and trns is None:
        return False  # opaque: its white background is made transparent by formats.picture
    samples = _COLOUR_TYPES[colour][0]
    row = 1 + (width * samples * depth + 7) // 8
    return _rows_ok(b"".join(body for kind, body in chunks if kind == b"IDAT"), row, height)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    out: list[tuple[bytes, bytes]] = []
    pos = len(_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data) or kind not in _ALLOWED_CHUNKS:
            return None
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack_from(">I", data, pos + 8 + length)[0]:
            return None
        out.append((kind, body))
        pos = end
        if kind == b"IEND":
            break
    return out if pos == len(data) else None


def _header(body: bytes) -> tuple[int, int, int, int] | None:
    if len(body) != 13:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if colour not in _COLOUR_TYPES or depth not in _COLOUR_TYPES[colour][1]:
        return None
    if compression or filtering or interlace:  # only method 0; Adam7 interlacing left to Pillow
        return None
    if (
        not (0 < width <= MAX_PICTURE_PX and 0 < height <= MAX_PICTURE_PX)
        or width * height > MAX_PICTURE_PIXELS
    ):
        return None
    return width, height, depth, colour


def _colours_fit(colour: int, depth: int, palette: bytes | None, trns: bytes | None) -> bool:
    if colour == 3:
        if palette is None or not palette or len(palette) % 3 or len(palette) // 3 > 1 << depth:
            return False
        return trns is None or len(trns) <= len(palette) // 3
    if palette is not None and colour in (0, 4):
        return False  # grey images take no palette
    if colour in (4, 6):
        return trns is None
    return trns is None or len(trns) == _TRNS_LENGTH[colour]


def _rows_ok(compressed: bytes, row: int, height: int) -> bool:
    """Does the zlib stream inflate to exactly `height` rows of `row` bytes, each led by a filter type 0-4?
    Inflated at most one byte past that: a bomb stops there."""
    expected = row * height
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, expected + 1)
    except zlib.error:
        return False
    if len(raw) != expected or not inflater.eof or inflater.unused_data:
        return False
    return max(raw[::row]) <= 4
