"""Is it a PDF? Its first bytes say so. Light on purpose: `sealbridge verify` asks before anything heavy is
imported, to start hashing a large document at once."""

from __future__ import annotations

#: Where "%PDF-" may start (readers accept a little junk before the header).
PDF_HEADER_WINDOW = 1024


def is_pdf_head(head: bytes) -> bool:
    """Whether a document's first bytes say PDF (enough to choose the PDF stamper, which streams)."""
    return b"%PDF-" in head[:PDF_HEADER_WINDOW]
