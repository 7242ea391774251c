"""A plain, invisible PDF signature (no seal picture, no seal attribute): how the platform's verification
service signs the evidence reports it issues (PAdES; SM2/SM3 for an SM2 key), with a signature time-stamp
from the TimeStamper it is given. Written in one pass like a stamp (onepass.py)."""

from __future__ import annotations

import asyncio
import io

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner

from formats.errors import SealBridgeError
from stamping.pdf.cms_signer import PdfCmsSigner, digest_for
from stamping.pdf.onepass import OnePassOutput, Source, open_input, open_writer, sign_update
from stamping.pdf.timestamper import PyHankoTimeStamper
from stamping.signer import Signer
from stamping.timestamps import TimeStamper


def sign_invisible(
    data: Source, signer: Signer, field_name: str, timestamper: TimeStamper | None, reason: str | None = None
) -> bytes:
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=digest_for(signer),
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
    )
    pdf_signer = PdfSigner(
        meta,
        signer=PdfCmsSigner(signer, None),
        timestamper=PyHankoTimeStamper(timestamper) if timestamper else None,
    )
    out = io.BytesIO()
    with open_input(data) as doc:
        try:
            writer = open_writer(PdfFileReader(doc.stream, strict=False))
        except (PdfError, ValueError, KeyError, TypeError) as exc:
            raise SealBridgeError("DOC_MALFORMED", f"not a readable PDF: {exc}") from None
        output = OnePassOutput(doc, out, meta.md_algorithm)
        try:
            asyncio.run(sign_update(pdf_signer, writer, output))
        finally:
            output.stop_copy()
    return out.getvalue()
