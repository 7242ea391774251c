"""Stamp a PDF with a test party and the verify options that trust it (PDF verification tests)."""

from __future__ import annotations

import io
from pathlib import Path

from stamping.options import StampOptions, VerifyOptions
from stamping.pdf import stamp
from stamping.placement import At


def stamp_pdf(data: bytes, party, placements=None, **opts) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    stamp(data, out, party.signer, party.seal, placements or [At(1, 60, 60)], StampOptions(**opts))
    return out.getvalue()


def trusting(*parties) -> VerifyOptions:  # type: ignore[no-untyped-def]
    return VerifyOptions(trust_anchors=[p.root for p in parties])


def root_files(folder: Path, *parties) -> list[str]:  # type: ignore[no-untyped-def]
    """Each party's root certificate written to `folder` (root0.der, root1.der...): their paths, for --trust."""
    paths = []
    for i, party in enumerate(parties):
        paths.append(folder / f"root{i}.der")
        paths[-1].write_bytes(party.root)
    return [str(p) for p in paths]


def pyhanko_sign(pdf: bytes, party, field_name: str, **metadata) -> bytes:  # type: ignore[no-untyped-def]
    """A plain signature (no seal) made by stock pyHanko with the party's key (RSA or ECDSA)."""
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    der = party.signer.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(party.signer.certificate),
        signing_key=keys.PrivateKeyInfo.load(der),
        cert_registry=None,
    )
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(field_name=field_name, **metadata),
        signer=signer,
        output=out,
    )
    return out.getvalue()
