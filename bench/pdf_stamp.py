"""PDF stamping and verification benchmark.

    .venv/bin/python bench/pdf_stamp.py [--big-mb 200] [--small-mb 2] [--verify-mb 50] [--seals 10]

1. Stamp (SM2 key, one seal) a big and a small PDF; compare with the floor "read the file + SM3 over it"
   and report the peak RSS of a fresh process doing only the stamp (the input must be in memory once).
2. Verify a PDF with N seals: ours (stamping.pdf.verify) against pyHanko's validate_pdf_signature over
   all N (with the same SM2 validator hook, since stock pyHanko cannot check SM2), as a ratio.
Test PDFs are written directly: text pages plus incompressible image XObjects to reach the size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from formats.gm import SM2PrivateKey, sm3_file  # noqa: E402
from formats.keysigner import KeySigner  # noqa: E402
from formats.picture import draw_round_seal  # noqa: E402
from formats.ses.build import build_seal_v4  # noqa: E402
from formats.x509 import build_certificate  # noqa: E402

IMAGE_BYTES = 2 * 1024 * 1024  # one filler image: 1024 x 2048 DeviceGray, random


def write_pdf(path: Path, size_mb: float, pages: int = 20) -> None:
    """A PDF of about size_mb: `pages` text pages, filler images spread over them."""
    n_images = max(0, round(size_mb * 1024 * 1024 / IMAGE_BYTES) - 0)
    offsets: list[int] = []
    with open(path, "wb") as f:

        def obj(num: int, body: bytes, stream: bytes | None = None) -> None:
            while len(offsets) < num:
                offsets.append(0)
            offsets[num - 1] = f.tell()
            f.write(b"%d 0 obj\n" % num + body)
            if stream is not None:
                f.write(b"\nstream\n" + stream + b"\nendstream")
            f.write(b"\nendobj\n")

        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        # 1 catalog, 2 pages, 3 font, then per page: page, content; then images
        first_page = 4
        image_base = first_page + 2 * pages
        kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(pages))
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        per_page: list[list[int]] = [[] for _ in range(pages)]
        for k in range(n_images):
            per_page[k % pages].append(image_base + k)
        for i in range(pages):
            imgs = per_page[i]
            xobj = b" ".join(b"/Im%d %d 0 R" % (n, n) for n in imgs)
            draw = b"".join(
                b"q 10 0 0 10 %d 20 cm /Im%d Do Q\n" % (20 + 12 * j, n) for j, n in enumerate(imgs)
            )
            content = b"BT /F1 14 Tf 72 780 Td (Benchmark page %d) Tj ET\n" % (i + 1) + draw
            obj(
                first_page + 2 * i,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 3 0 R >> /XObject << %s >> >> >>"
                % (first_page + 2 * i + 1, xobj),
            )
            obj(first_page + 2 * i + 1, b"<< /Length %d >>" % len(content), content)
        for k in range(n_images):
            obj(
                image_base + k,
                b"<< /Type /XObject /Subtype /Image /Width 1024 /Height 2048 /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Length %d >>" % IMAGE_BYTES,
                os.urandom(IMAGE_BYTES),
            )
        xref_at = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for off in offsets:
            f.write(b"%010d 00000 n \n" % off)
        f.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref_at)
        )


def make_party() -> tuple[KeySigner, bytes, bytes]:
    now = datetime.now(UTC)
    maker = SM2PrivateKey.generate()
    maker_cert = build_certificate({"common_name": "Bench Seal Maker"}, maker, None, maker)
    ca = SM2PrivateKey.generate()
    root = build_certificate({"common_name": "Bench Root"}, ca, None, ca, ca=True)
    key = SM2PrivateKey.generate()
    leaf = build_certificate({"common_name": "Bench Signer"}, key, root, ca)
    seal = build_seal_v4(
        esid="1101000000BENCH",
        name="基准测试专用章",
        seal_type=2,
        vid="bench",
        certs=[leaf],
        picture=("png", draw_round_seal("基准测试有限公司", "专用章", diameter_mm=40, px_per_mm=6), 40, 40),
        valid_start=now - timedelta(days=1),
        valid_end=now + timedelta(days=30),
        maker_key=maker,
        maker_cert_der=maker_cert,
    )
    return KeySigner(key, leaf, [root]), root, seal


def _vm_hwm_mb() -> float:
    """Peak resident set of this process image (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_stamp(src: str, dst: str, seals: int) -> None:
    """In a fresh process: read, stamp, report time and peak RSS."""
    from stamping.options import StampOptions
    from stamping.pdf import stamp
    from stamping.placement import At

    signer, _, seal = make_party()
    rss_before = _vm_hwm_mb()
    t0 = time.perf_counter()
    data = Path(src).read_bytes()
    t_read = time.perf_counter() - t0
    with open(dst, "w+b") as out:
        stamp(data, out, signer, seal, [At(1, 40 + 5 * i, 40 + 5 * i) for i in range(seals)], StampOptions())
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "read_seconds": t_read,
                "peak_rss_mb": _vm_hwm_mb(),
                "base_rss_mb": rss_before,
            }
        )
    )


def run_child(src: Path, dst: Path, seals: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(src), str(dst), str(seals)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(path: Path) -> float:
    t0 = time.perf_counter()
    data = path.read_bytes()
    from formats.gm import sm3

    sm3(data)
    return time.perf_counter() - t0


def bench_stamp(tmp: Path, size_mb: float) -> dict:
    src, dst = tmp / f"in_{size_mb}.pdf", tmp / f"out_{size_mb}.pdf"
    write_pdf(src, size_mb)
    sm3_file(src)  # warm the page cache so both measure the same thing
    fl = min(floor(src) for _ in range(2))
    child = run_child(src, dst)
    size = src.stat().st_size / 1e6
    src.unlink()
    dst.unlink()
    return {
        "input_mb": round(size, 1),
        "stamp_s": round(child["seconds"], 3),
        "floor_read_sm3_s": round(fl, 3),
        "ratio_to_floor": round(child["seconds"] / fl, 2),
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "rss_before_stamp_mb": round(child["base_rss_mb"], 1),
    }


def bench_verify(tmp: Path, size_mb: float, seals: int) -> dict:
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from stamping.options import StampOptions, VerifyOptions
    from stamping.pdf import stamp, verify
    from stamping.pdf.sm2_pyhanko import GmSignatureValidator
    from stamping.placement import At

    src = tmp / "verify_in.pdf"
    write_pdf(src, size_mb)
    signer, root, seal = make_party()
    buf = tempfile.TemporaryFile(dir=tmp)
    t0 = time.perf_counter()
    stamp(src.read_bytes(), buf, signer, seal, [At(1 + i % 20, 50, 50) for i in range(seals)], StampOptions())
    t_stamp = time.perf_counter() - t0
    buf.seek(0)
    data = buf.read()
    buf.close()
    src.unlink()

    anchors = [x509.Certificate.load(root)]

    def ours() -> None:
        report = verify(data, VerifyOptions(trust_anchors=[root]))
        assert [s.verdict for s in report.seals] == ["valid"] * seals, report.to_dict()

    def pyhanko_only() -> None:
        reader = PdfFileReader(io.BytesIO(data))
        for sig in reader.embedded_signatures:
            vc = ValidationContext(trust_roots=anchors, signature_validator=GmSignatureValidator())
            status = validate_pdf_signature(sig, vc)
            assert status.intact and status.valid

    # One-time costs (imports, lazy initialisation) hit whichever runs first: alternate, keep the best.
    times: dict[str, list[float]] = {"ours": [], "pyhanko": []}
    for _ in range(2):
        for name, fn in (("ours", ours), ("pyhanko", pyhanko_only)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    t_ours, t_pyhanko = min(times["ours"]), min(times["pyhanko"])
    return {
        "file_mb": round(len(data) / 1e6, 1),
        "seals": seals,
        "stamp_all_s": round(t_stamp, 2),
        "verify_ours_s": round(t_ours, 2),
        "verify_ours_first_run_s": round(times["ours"][0], 2),
        "verify_pyhanko_s": round(t_pyhanko, 2),
        "ratio_ours_to_pyhanko": round(t_ours / t_pyhanko, 2),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_stamp(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--big-mb", type=float, default=200)
    ap.add_argument("--small-mb", type=float, default=2)
    ap.add_argument("--verify-mb", type=float, default=50)
    ap.add_argument("--seals", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = {
            "stamp_small": bench_stamp(tmp, args.small_mb),
            "stamp_big": bench_stamp(tmp, args.big_mb),
            "verify": bench_verify(tmp, args.verify_mb, args.seals),
        }
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
