"""What the OFD benchmarks share: a generated ~100 MB OFD of incompressible page images, an SM2 PKI and seal,
a sealing loop, the SM3 floors, and running a fresh Python process for its time and peak RSS."""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import BUSY_HELP  # noqa: E402 - bench/, beside this module
from PIL import Image  # noqa: E402

from formats.dochash import new_hash  # noqa: E402
from formats.gm import SM2PrivateKey, SM3Hasher  # noqa: E402
from formats.keysigner import KeySigner  # noqa: E402
from formats.picture import draw_round_seal  # noqa: E402
from formats.ses.build import build_seal_v4  # noqa: E402
from formats.x509 import build_certificate  # noqa: E402

NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'
CHUNK = 1 << 20


def document_args(description: str) -> argparse.ArgumentParser:
    """The options both OFD benchmarks take: the generated document's size and the repetitions."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--deflate-images", action="store_true", help="deflate the JPEGs (default: stored)")
    ap.add_argument(
        "--busy",
        type=int,
        default=0,
        help=BUSY_HELP,
    )
    return ap


def noise_jpeg(target_bytes: int) -> bytes:
    """A real JPEG of noise (incompressible, like a scan) of roughly target_bytes."""
    side = max(64, int((target_bytes / 0.9) ** 0.5))  # noise JPEG at q90: about 0.9 bytes per pixel
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def make_big_ofd(pages: int, total_mb: int, deflate_images: bool = False) -> bytes:
    """`pages` pages of one noise JPEG each, `total_mb` in all; the JPEGs stored (as most OFD producers write
    them, deflating gains nothing) or, with `deflate_images`, deflated (as some do: then inflating costs too)."""
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
            method = zipfile.ZIP_DEFLATED if deflate_images else zipfile.ZIP_STORED
            z.writestr(f"Doc_0/Res/Image_{i}.jpg", noise_jpeg(per_image), compress_type=method)
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


def seal_n_times(data: bytes, n: int, signer: KeySigner, seal: bytes) -> bytes:
    """`data` with `n` seals added one after another (each covering everything before it)."""
    from stamping.ofd import stamp
    from stamping.options import StampOptions
    from stamping.placement import At

    for i in range(n):
        out = io.BytesIO()
        stamp(data, out, signer, seal, [At(page=1 + i, x=150, y=250)], StampOptions())
        data = out.getvalue()
    return data


def sm3_pass(data: bytes) -> None:
    """One SM3 pass over the package bytes, in 1 MiB chunks."""
    h = SM3Hasher()
    view = memoryview(data)
    for off in range(0, len(view), CHUNK):
        h.update(view[off : off + CHUNK])
    h.digest()


def sha256_pass(data: bytes) -> None:
    """One SHA-256 pass over the package bytes (the report's second digest of the document)."""
    new_hash("sha256", data).digest()


def verify_hashing_floor(data: bytes) -> None:
    """The hashing an OFD verify cannot skip, as fast as two threads do it: the report's SM3 and SHA-256 of the
    file on one, one SM3 pass (standing for the entries the References cover) on this one. It needs the
    same CPUs verify() needs, so verify() / this holds still when other sessions take CPUs away."""
    worker = threading.Thread(target=lambda: (new_hash("sm3", data).digest(), sha256_pass(data)))
    worker.start()
    sm3_pass(data)
    worker.join()


def read_and_hash_entries(data: bytes) -> None:
    """Read (inflate) and SM3 every entry once: the least work a stamper must do."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            h = SM3Hasher()
            with z.open(info) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            h.digest()


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of fn(): on a shared machine the CPU time is the steadier figure."""
    cpu, start = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - start, cpu_seconds() - cpu


def run_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, bytes, float]:
    """(wall seconds, peak RSS MiB, exit code, stdout, CPU seconds) of a fresh process.

    The RSS comes from /usr/bin/time: a child forked from this (large) process inherits its high-water mark
    through fork and exec, so our own wait4() rusage would report this process's size instead."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        wrapped = (
            ["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file.name, *argv]
            if Path("/usr/bin/time").exists()
            else argv
        )
        start = time.perf_counter()
        proc = subprocess.run(
            wrapped, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, check=False
        )
        wall = time.perf_counter() - start
        text = rss_file.read().strip().splitlines()
    fields = text[-1].split() if text else []
    if len(fields) == 3:
        peak, cpu = float(fields[0]) / 1024, float(fields[1]) + float(fields[2])
    else:
        peak = cpu = float("nan")
    return wall, peak, proc.returncode, proc.stdout, cpu


def best(values: list[float]) -> str:
    return f"{min(values):.3f} s best of [{', '.join(f'{v:.3f}' for v in values)}]"


def ratio_line(
    name: str,
    measured: list[float],
    floor: list[float],
    cpu: list[float],
    cpu_floor: list[float],
    floor_name: str = "floor",
) -> str:
    """`ratio NAME / floor: N.NN` (best wall times), with the CPU-time ratio beside it."""
    return (
        f"ratio {name} / {floor_name}: {min(measured) / min(floor):.2f}"
        f"   (CPU time: {min(cpu):.3f} s / {min(cpu_floor):.3f} s = {min(cpu) / min(cpu_floor):.2f})"
    )
