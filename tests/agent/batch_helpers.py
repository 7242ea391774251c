"""Helpers of the batch tests: small distinct PDFs, checking an output, counting PIN logins on the token."""

from __future__ import annotations

import io
from typing import Any

import pytest


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


def verify_output(data: bytes) -> tuple[str, str]:
    from stamping.options import VerifyOptions

    if data.startswith(b"%PDF"):
        from stamping.pdf.verify import verify
    else:
        from stamping.ofd.verify import verify
    seal = verify(data, VerifyOptions(trust_anchors=[])).seals[-1]
    return seal.checks["integrity"].status, seal.checks["signature"].status


def count_logins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts PIN logins on the soft token (its real login runs; only counted)."""
    from agent.tokens.soft import SoftToken

    calls = [0]
    real = SoftToken._login

    def counted(self: Any, pin: str) -> Any:
        calls[0] += 1
        return real(self, pin)

    monkeypatch.setattr(SoftToken, "_login", counted)
    return calls
