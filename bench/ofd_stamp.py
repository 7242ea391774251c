"""Benchmark: stamp a generated 200-page, ~100 MB OFD (one JPEG per page) and compare with the floor.

The floor is what any stamper must do at least: read and SM3-hash every entry of the package once.
Prints the stamp time, the floor, their ratio, the verify time, and the peak RSS of this process.

    .venv/bin/python bench/ofd_stamp.py [--pages 200] [--mb 100]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from formats.gm import SM2PrivateKey, SM3Hasher  # noqa: E402
from formats.keysigner import KeySigner  # noqa: E402
from formats.picture import draw_round_seal  # noqa: E402
from formats.ses import build_seal_v4  # noqa: E402
from formats.x509 import build_certificate  # noqa: E402
from stamping.ofd import stamp, verify  # noqa: E402
from stamping.options import StampOptions, VerifyOptions  # noqa: E402
from stamping.placement import At, Seam  # noqa: E402

NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def noise_jpeg(target_bytes: int) -> bytes:
    """A real JPEG of noise (incompressible, like a scan) of roughly target_bytes."""
    side = max(64, int((target_bytes / 0.9) ** 0.5))  # noise JPEG at q90: about 0.9 bytes per pixel
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def make_big_ofd(pages: int, total_mb: int) -> bytes:
    per_image = total_mb * (1 << 20) // pages
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "OFD.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {NS} Version="1.0" DocType="OFD"><ofd:DocBody>'
            "<ofd:DocInfo><ofd:DocID>bench</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
            "</ofd:DocBody></ofd:OFD>",
        )
        refs = "".join(
            f'<ofd:Page ID="{1000 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(pages)
        )
        z.writestr(
            "Doc_0/Document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {NS}><ofd:CommonData><ofd:PageArea>'
            "<ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea><ofd:MaxUnitID>9999</ofd:MaxUnitID>"
            "<ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData>"
            f"<ofd:Pages>{refs}</ofd:Pages></ofd:Document>",
        )
        media = "".join(
            f'<ofd:MultiMedia ID="{5000 + i}" Type="Image"><ofd:MediaFile>Image_{i}.jpg</ofd:MediaFile></ofd:MultiMedia>'
            for i in range(pages)
        )
        z.writestr(
            "Doc_0/DocumentRes.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res {NS} BaseLoc="Res"><ofd:MultiMedias>{media}'
            "</ofd:MultiMedias></ofd:Res>",
        )
        for i in range(pages):
            z.writestr(
                f"Doc_0/Pages/Page_{i}/Content.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {NS}><ofd:Content><ofd:Layer ID="{2000 + i}">'
                f'<ofd:ImageObject ID="{3000 + i}" ResourceID="{5000 + i}" Boundary="0 0 210 297" CTM="210 0 0 297 0 0"/>'
                f'<ofd:TextObject ID="{4000 + i}" Boundary="20 20 100 10" Size="5"><ofd:TextCode X="0" Y="5" '
                f'DeltaX="g 3 5">第{i + 1}页</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>',
            )
            # JPEGs are stored, as OFD producers do (deflating them gains nothing)
            z.writestr(f"Doc_0/Res/Image_{i}.jpg", noise_jpeg(per_image), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def make_signer() -> tuple[KeySigner, bytes, bytes]:
    now = datetime.now(UTC)
    root_key = SM2PrivateKey.generate()
    root = build_certificate({"common_name": "Bench Root"}, root_key.public_key, None, root_key, ca=True,
                             not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))  # fmt: skip
    key = SM2PrivateKey.generate()
    cert = build_certificate({"common_name": "Bench Signer"}, key.public_key, root, root_key,
                             not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))  # fmt: skip
    picture = draw_round_seal("示例科技有限公司", "合同专用章", diameter_mm=40, px_per_mm=6)
    seal = build_seal_v4(esid="bench", name="Bench Seal", seal_type=1, vid="bench", certs=[cert],
                         picture=("png", picture, 40, 40), valid_start=now - timedelta(days=1),
                         valid_end=now + timedelta(days=30), maker_key=root_key, maker_cert_der=root)  # fmt: skip
    return KeySigner(key, cert, [root]), seal, root


def floor_seconds(data: bytes) -> float:
    """Read and SM3 every entry once: the least work a stamper or verifier can do."""
    start = time.perf_counter()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            h = SM3Hasher()
            with z.open(info) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            h.digest()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = make_big_ofd(args.pages, args.mb)
    print(
        f"generated {args.pages} pages, {len(data) / (1 << 20):.1f} MiB in {time.perf_counter() - t0:.1f} s"
    )
    signer, seal, root = make_signer()

    placements = [At(page=1, x=150, y=250), At(page=args.pages, x=150, y=250), Seam(side="right")]
    floors: list[float] = []
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / "stamped.ofd"
        # Alternate the two measurements and keep the best of each: the machine is shared.
        for _ in range(args.repeat):
            floors.append(floor_seconds(data))
            start = time.perf_counter()
            with open(out_path, "wb") as out:
                result = stamp(data, out, signer, seal, placements, StampOptions())
            stamps.append(time.perf_counter() - start)
        stamped = out_path.read_bytes()
    floor, stamp_s = min(floors), min(stamps)
    start = time.perf_counter()
    report = verify(stamped, VerifyOptions(trust_anchors=[root]))
    verify_s = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runs = ", ".join(f"{v:.2f}" for v in stamps)
    print(
        f"stamp:            {stamp_s:.2f} s best of [{runs}] ({len(result.boxes)} seal images, verdict {report.verdict})"
    )
    print(f"floor (read+SM3): {floor:.2f} s best of [{', '.join(f'{v:.2f}' for v in floors)}]")
    print(f"ratio stamp/floor: {stamp_s / floor:.2f}")
    print(f"verify:           {verify_s:.2f} s  (ratio {verify_s / floor:.2f})")
    print(
        f"load average:     {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (figures are noisy on a busy machine)"
    )
    print(f"peak RSS:         {peak_mb:.0f} MiB (input and output documents are held in memory)")
    return 0 if report.verdict == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
