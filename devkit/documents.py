"""Documents made on the spot for batch runs (tests and benchmarks): small one-page PDFs that differ."""

from __future__ import annotations

import io


def one_page_pdf(n: int) -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    content = pdf.make_stream(f"BT /F1 14 Tf 72 720 Td (Invoice {n}) Tj ET".encode())
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 595, 842],
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=content,
            )
        )
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
