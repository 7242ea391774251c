"""Sign → PDF stamp verifies: the seal and key come from a SoftHSM2 token, stamping.pdf does the rest."""

from __future__ import annotations

import io

import pikepdf
import pytest

from agent.seal_store import SealStore
from agent.tokens import pkcs11 as driver
from stamping import pdf
from stamping.options import StampOptions, VerifyOptions
from stamping.placement import At
from tests.support.softhsm import KEY_IDS, PIN, der_of


def _blank_pdf() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def token_label(softhsm):
    label = softhsm.make_token(("rsa", "ecdsa"))
    yield label
    softhsm.delete_token(label)


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_pdf_stamped_with_a_pkcs11_key_verifies(softhsm, token_label, tmp_path, kind):
    token = driver.open_token(token_label, KEY_IDS[kind], [softhsm.module])
    info = token.info()
    seal = SealStore(tmp_path).find(softhsm.pki.seal_ids[kind], [info])
    assert seal.key_id == KEY_IDS[kind]
    original = _blank_pdf()
    out = io.BytesIO()
    with token.signer(PIN, seal.key_id) as signer:
        result = pdf.stamp(original, out, signer, seal.der, [At(page=1, x=100, y=120)], StampOptions())
    assert result.format == "pdf" and result.pages == [1]
    stamped = out.getvalue()
    assert stamped.startswith(original[: len(original) - 64])  # an incremental update
    report = pdf.verify(stamped, VerifyOptions(trust_anchors=[der_of(softhsm.pki.roots[kind])]))
    assert report.verdict == "valid", report.to_dict()
    (sealrep,) = report.seals
    assert sealrep.verdict == "valid"
    # Tampering with the signed bytes breaks it.
    broken = bytearray(stamped)
    at = broken.index(b"/MediaBox")
    broken[at + 1] = ord("N")
    assert (
        pdf.verify(bytes(broken), VerifyOptions(trust_anchors=[der_of(softhsm.pki.roots[kind])])).verdict
        != "valid"
    )
