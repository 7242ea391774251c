"""Evidence report generation time for a 20-page document with a seal on every page (a riding seam).

A 20-page text PDF (made here with reportlab) with one official
seal plus a riding seam over all 20 pages, so every page carries a seal and is rendered into the report.
Baseline measured in the same run: verifying the same document (the evidence report verifies first, then
renders the sealed pages and writes the PDF), so the ratio is what the evidence costs on top of verification.

    .venv/bin/python bench/evidence_report.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def text_pdf(pages: int) -> bytes:
    """An A4 document with a few lines of text on each page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(1, pages + 1):
        for line in range(30):
            c.drawString(
                72, 770 - 22 * line, f"Contract page {n}, clause {line + 1}: the parties agree as follows."
            )
        c.showPage()
    c.save()
    return buf.getvalue()


def stamped_pdf(pki_dir: Path, pages: int) -> tuple[bytes, list[bytes]]:
    from agent.devpki import make_dev_pki
    from agent.tokens.soft import open_soft_token
    from formats.gm.keys import load_certificates
    from stamping.options import StampOptions
    from stamping.pdf import stamp
    from stamping.placement import parse_place, parse_seam

    pki = make_dev_pki(pki_dir)
    token = open_soft_token(pki.tokens["sm2"])
    signer = token.signer(pki.pin)
    seal = pki.seals["sm2"].read_bytes()
    out = io.BytesIO()
    placements = [parse_place("page=1,x=100,y=150"), parse_seam(f"right,pages=1-{pages}")]
    stamp(text_pdf(pages), out, signer, seal, placements, StampOptions())
    return out.getvalue(), [c.dump() for c in load_certificates(pki.root.read_bytes())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    from stamping.evidence.build import EvidenceInput, build_evidence
    from stamping.options import VerifyOptions
    from stamping.pdf import verify

    with tempfile.TemporaryDirectory() as tmp:
        data, anchors = stamped_pdf(Path(tmp) / "pki", args.pages)
    verify_times, evidence_times = [], []
    size = pages_out = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        report = verify(data, VerifyOptions(trust_anchors=anchors))
        t1 = time.perf_counter()
        pdf = build_evidence(EvidenceInput("bench.pdf", data, report, b"{}", datetime.now(UTC), anchors))
        t2 = time.perf_counter()
        verify_times.append(t1 - t0)
        evidence_times.append(t2 - t1)
        size = len(pdf)
        pages_out = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page")
    v, e = min(verify_times), min(evidence_times)
    print(
        f"document: {args.pages}-page PDF, {len(data):,} bytes, {len(report.seals)} seals, verdict {report.verdict}"
    )
    print(f"baseline verify: {v:.2f} s")
    print(f"evidence (render + write, after verify): {e:.2f} s = {e / v:.2f} × verify; total {v + e:.2f} s")
    print(f"evidence PDF: {size:,} bytes, about {pages_out} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
