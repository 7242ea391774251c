"""A plain, invisible PDF signature (no seal picture, no seal attribute): how the platform's verification
service signs the evidence reports it issues (PAdES; SM2/SM3 for an SM2 key), with a signature time-stamp
from the TimeStamper it is given."""

from __future__ import annotations

import io

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner

from stamping.pdf.sm2_pyhanko import PdfCmsSigner, digest_for
from stamping.pdf.timestamper import PyHankoTimeStamper
from stamping.signer import Signer
from stamping.timestamps import TimeStamper


def sign_invisible(
    data: bytes, signer: Signer, field_name: str, timestamper: TimeStamper | None, reason: str | None = None
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
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
    pdf_signer.sign_pdf(writer, output=out)
    return out.getvalue()
