"""The seal picture's PDF encoding: exactly the picture's pixels, made once per picture per process.

The encoding uses zlib's default level (fast) instead of its highest; these tests check that what a reader
decodes is still exactly the picture, that a picture met again (another Image object with the same pixels,
another stamp with the same seal) reuses the first encoding, and that two stamps carry identical images.
"""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
from PIL import Image

from formats.gm.keys import load_certificates, load_private_key
from formats.keysigner import KeySigner
from formats.ses.parse import parse_seal
from stamping.options import StampOptions
from stamping.pdf import stamp
from stamping.pdf.appearance import fit_resolution, load_seal_image
from stamping.pdf.seal_image import EncodedSealImage, encode_seal_image
from stamping.placement import At
from tests.support.pdf_maker import contract_pdf


def _png(width: int, height: int, bits: int, palette: bytes, idat: bytes) -> Image.Image:
    """A palette PNG around an encoded stream, decoded by Pillow: what a PDF reader gets from it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bits, 3, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"PLTE", palette)
    data += chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _seal_picture(dev_pki) -> Image.Image:  # type: ignore[no-untyped-def]
    pic = parse_seal(dev_pki.seals["sm2"].read_bytes()).picture
    return fit_resolution(load_seal_image(pic.type, pic.data), float(pic.width_mm), float(pic.height_mm))


def _decoded(enc: EncodedSealImage) -> tuple[Image.Image, Image.Image]:
    """(colour as RGB, coverage as 0..15) decoded from the encoded streams."""
    colour = _png(enc.width, enc.height, enc.bits, enc.palette, enc.colour).convert("RGB")
    grey = bytes(i * 17 for i in range(16) for _ in range(3))
    levels = _png(enc.width, enc.height, 4, grey, enc.alpha)
    return colour, Image.frombytes("L", levels.size, levels.tobytes())


def test_encoded_streams_decode_to_exactly_the_picture(dev_pki) -> None:  # type: ignore[no-untyped-def]
    rgba = _seal_picture(dev_pki)
    enc = encode_seal_image(rgba)
    colour, levels = _decoded(enc)
    alpha = rgba.getchannel("A").tobytes()
    assert levels.tobytes() == bytes(round(v * 15 / 255) for v in alpha)
    # The dev seal is one ink colour: every visible pixel decodes to exactly its colour.
    visible = [i for i, a in enumerate(alpha) if a]
    assert visible
    source, decoded = rgba.convert("RGB").tobytes(), colour.tobytes()
    assert all(decoded[3 * i : 3 * i + 3] == source[3 * i : 3 * i + 3] for i in visible)


def test_a_picture_met_again_reuses_its_encoding(dev_pki) -> None:  # type: ignore[no-untyped-def]
    rgba = _seal_picture(dev_pki)
    first = encode_seal_image(rgba)
    again = encode_seal_image(rgba.copy())  # another object, the same pixels
    assert again is first
    changed = rgba.copy()
    changed.putpixel((0, 0), (0, 0, 0, 255))
    other = encode_seal_image(changed)
    assert other is not first and other.alpha != first.alpha


def test_two_stamps_with_one_seal_carry_identical_images(dev_pki) -> None:  # type: ignore[no-untyped-def]
    cert = load_certificates(dev_pki.signer_certs["sm2"].read_bytes())[0]
    signer = KeySigner(load_private_key(dev_pki.signer_keys["sm2"].read_bytes()), cert, [])
    seal = dev_pki.seals["sm2"].read_bytes()
    outputs = []
    for _ in range(2):
        out = io.BytesIO()
        stamp(contract_pdf(1), out, signer, seal, [At(1, 60, 60)], StampOptions())
        outputs.append(out.getvalue())
    images = []
    for pdf in outputs:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            ap = doc.Root.AcroForm.Fields[0].AP.N
            image = ap.Resources.XObject.Seal
            images.append((image.read_raw_bytes(), image.SMask.read_raw_bytes()))
    assert images[0] == images[1]
    enc = encode_seal_image(_seal_picture(dev_pki))
    assert images[0] == (enc.colour, enc.alpha)
