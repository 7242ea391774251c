"""Compact output: a dev-pki seal (a 42 mm round seal at 305 dpi) costs at most 60 KB per seal in a PDF.

What makes it small, each checked here: the seal picture is a small indexed-colour PNG at print resolution,
the seal DER travels once per signature (in the CMS, as a signed attribute), /Contents is sized from a dry
run of the real CMS (no fixed reserve), and the appearance image is indexed colour with a 4-bit soft mask.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image

from formats.der import first_element
from formats.gm.keys import load_certificates, load_private_key
from formats.keysigner import KeySigner
from formats.ses.parse import parse_seal
from stamping.options import StampOptions
from stamping.pdf import stamp
from stamping.placement import At
from tests.support.pdf_maker import contract_pdf

MAX_SEAL_OVERHEAD = 60 * 1024
MAX_PICTURE = 20 * 1024


def _signer(dev_pki, name: str) -> KeySigner:  # type: ignore[no-untyped-def]
    cert = load_certificates(dev_pki.signer_certs[name].read_bytes())[0]
    root = load_certificates(dev_pki.roots[name].read_bytes())[0]
    return KeySigner(load_private_key(dev_pki.signer_keys[name].read_bytes()), cert, [root])


@pytest.mark.parametrize("name", ["sm2", "ecdsa", "rsa"])
def test_dev_pki_seal_picture_is_small_indexed_and_print_resolution(dev_pki, name: str) -> None:
    seal = parse_seal(dev_pki.seals[name].read_bytes())
    pic = seal.picture
    assert pic.type.lower() == "png" and len(pic.data) <= MAX_PICTURE, len(pic.data)
    with Image.open(io.BytesIO(pic.data)) as img:
        assert img.mode == "P" and "transparency" in img.info  # indexed colour, coverage in tRNS
        assert img.width / (float(pic.width_mm) / 25.4) >= 300  # at least 300 dpi for its true size
        assert img.height / (float(pic.height_mm) / 25.4) >= 300


@pytest.mark.parametrize("name", ["sm2", "ecdsa", "rsa"])
def test_dev_pki_seal_costs_at_most_60_kb_per_seal(dev_pki, name: str) -> None:
    seal = dev_pki.seals[name].read_bytes()
    signer = _signer(dev_pki, name)
    data = contract_pdf(1)
    out = io.BytesIO()
    places = [At(page=1, x=50, y=60), At(page=1, x=110, y=60), At(page=1, x=170, y=60)]
    stamp(data, out, signer, seal, places, StampOptions())
    pdf = out.getvalue()
    assert len(pdf) - len(data) <= 3 * MAX_SEAL_OVERHEAD, len(pdf) - len(data)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        fields = doc.Root.AcroForm.Fields
        assert len(fields) == 3
        for field in fields:
            contents = bytes(field.V.Contents)
            # The seal is carried once: its DER appears exactly once in the signature's CMS.
            assert contents.count(seal) == 1
            # /Contents is the CMS plus at most a few bytes of zero padding (tight dry-run size).
            assert len(contents) - len(first_element(contents)) <= 8
