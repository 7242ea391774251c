"""PDF stamping benchmark: stamp against the read+SM3 floor, in-process and through `sealbridge stamp`.

    .venv/bin/python bench/pdf_stamp.py [--mb 100] [--cli-mb 60 100] [--rounds 5] [--input path|bytes]
                                        [--compare OTHER_TREE]

1. In-process (a fresh child per round, SM2 software key, one seal): stamping a 100 MB PDF from its path
   into a file, against "read the file + SM3 over it" in the same process; peak RSS increase of the stamp.
2. CLI: `sealbridge stamp` (soft token from a dev PKI: argon2id PIN unlock included) as a whole process,
   against a process that only reads the file and SM3-hashes it; also the peak RSS of each, as a multiple
   of the file size and as the increase over an "empty run" (the same command on a one-page PDF).
3. The soft token's PIN unlock (argon2id) alone, which the CLI pays once per run.
With --compare, the in-process and CLI runs of another checkout (e.g. an export of main before a change)
are interleaved with this tree's, so "before" and "after" come from the same run.
Verification has its own benchmark: bench/pdf_verify.py.
Every figure is the best of --rounds, the runs interleaved (with --compare the two trees take turns going first);
`uptime` is printed with them. The CLI's excess over the floor is also given round by round (median, best,
worst), each round's CLI run against that round's floor. No run pays for removing an earlier run's output. The repository's
modules are byte-compiled first (as an installed package is), so no run pays for compiling them.
Test PDFs are written directly: text pages plus incompressible image XObjects to reach the size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from installed import prepare  # noqa: E402 - bench/, this script's folder

from formats.gm import SM2PrivateKey  # noqa: E402
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
    """Peak resident set of this process image so far (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# The floor process: read the file and SM3 it in 1 MiB chunks with cryptography's SM3, nothing else.
FLOOR_SCRIPT = """
import sys
from cryptography.hazmat.primitives import hashes
h = hashes.Hash(hashes.SM3())
buf = bytearray(1 << 20)
view = memoryview(buf)
with open(sys.argv[1], "rb", buffering=0) as f:
    while n := f.readinto(buf):
        h.update(view[:n])
print(h.finalize().hex())
"""


def read_sm3(path: Path) -> str:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.finalize().hex()


def child_inproc(src: str, dst: str, mode: str) -> None:
    """In a fresh process: the floor, then a stamp (SM2, one seal) from the path (or from bytes)."""
    from devkit.documents import one_page_pdf
    from stamping.options import StampOptions
    from stamping.pdf import stamp
    from stamping.placement import At

    signer, _, seal = make_party()
    stamp(one_page_pdf(1), io.BytesIO(), signer, seal, [At(1, 40, 40)], StampOptions())  # imports, warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    read_sm3(Path(src))
    t_floor, c_floor = time.perf_counter() - t0, time.process_time() - c0
    rss_before = _vm_hwm_mb()
    # Not timed: truncating an earlier round's 100 MB output is no stamp's work.
    Path(dst).unlink(missing_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    source = Path(src).read_bytes() if mode == "bytes" else Path(src)
    with open(dst, "w+b") as out:
        stamp(source, out, signer, seal, [At(1, 40, 40)], StampOptions())  # type: ignore[arg-type]
    t_stamp, c_stamp = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"floor": t_floor, "stamp": t_stamp, "floor_cpu": c_floor, "stamp_cpu": c_stamp,
                      "rss": _vm_hwm_mb(), "rss_before": rss_before}))  # fmt: skip


# A direct child's ru_maxrss starts at its parent's peak (Linux keeps the old image's high-water mark over
# exec), and this script's own peak is large. So a small launcher starts the measured process and reports
# the wall time and the peak RSS (from wait4) of that grandchild alone.
LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - t0
cpu = usage.ru_utime + usage.ru_stime
print(f"{elapsed} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu}", file=sys.stderr)
"""


def run(argv: list[str], tree: Path = REPO) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS in MB, stdout, CPU seconds of every thread) of a whole process running the
    code of `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *argv], capture_output=True, text=True, env=env, check=True
    )
    elapsed, maxrss_kb, code, cpu = proc.stderr.strip().splitlines()[-1].split()
    if int(code):
        raise RuntimeError(f"{argv[:4]} exited {code}: {proc.stderr[-3000:]}")
    return float(elapsed), int(maxrss_kb) / 1024, proc.stdout, float(cpu)


def best(samples: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(best time, highest peak RSS, least CPU time) over the rounds."""
    return min(s[0] for s in samples), max(s[1] for s in samples), min(s[2] for s in samples)


def bench_pin_unlock(pki) -> float:  # noqa: ANN001
    from agent.tokens.soft import open_soft_token

    token = open_soft_token(pki.tokens["sm2"])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        token.signer(pki.pin)
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_all(tmp: Path, args: argparse.Namespace) -> dict:
    from agent.devpki import make_dev_pki
    from devkit.documents import one_page_pdf

    prepare(REPO)
    if args.compare:
        prepare(args.compare)

    pki = make_dev_pki(tmp / "pki")
    sizes = sorted({args.mb, *args.cli_mb})
    files = {mb: tmp / f"in_{mb:g}.pdf" for mb in sizes}
    for mb, path in files.items():
        write_pdf(path, mb)
    tiny = tmp / "tiny.pdf"
    tiny.write_bytes(one_page_pdf(1))
    cli = [str(REPO / ".venv" / "bin" / "sealbridge"), "stamp"]
    token = ["--token", f"soft:{pki.tokens['sm2']}", "--pin-file", str(pki.pin_file), "--json"]

    def cli_stamp(path: Path, tree: Path = REPO) -> tuple[float, float, float]:
        out = tmp / "out.pdf"
        # The CLI renames its output into place; a previous run's 100 MB output would be freed inside the
        # measured process. Removed here, untimed.
        out.unlink(missing_ok=True)
        argv = [*cli, str(path), "-o", str(out), "--place", "page=1,x=60,y=60", *token]
        t, rss, _, cpu = run(argv, tree)
        return t, rss, cpu

    def floor(path: Path) -> tuple[float, float, float]:
        t, rss, _, cpu = run([sys.executable, "-c", FLOOR_SCRIPT, str(path)])
        return t, rss, cpu

    def inproc(tree: Path = REPO) -> dict:
        script = tree / "bench" / "pdf_stamp.py"
        _, _, out, _ = run(
            [sys.executable, str(script), "--child", str(files[args.mb]), str(tmp / "o.pdf"), args.input],
            tree,
        )
        return json.loads(out.strip().splitlines()[-1])

    for path in files.values():
        read_sm3(path)  # warm the page cache so every run measures the same thing
    samples: dict[str, list] = {}
    for round_no in range(args.rounds):
        # With --compare, the two trees take turns going first: the one that runs second in a round meets a
        # warmer machine (and, before, a fresher page cache), so a fixed order would favour one of them.
        trees: list[tuple[str, Path]] = [("", REPO)] + ([("compare_", args.compare)] if args.compare else [])
        if round_no % 2:
            trees.reverse()
        for prefix, tree in trees:
            samples.setdefault(f"{prefix}inproc", []).append(inproc(tree))
        samples.setdefault("empty_cli", []).append(cli_stamp(tiny))
        samples.setdefault("empty_floor", []).append(floor(tiny))
        for mb in args.cli_mb:
            samples.setdefault(f"floor_{mb:g}", []).append(floor(files[mb]))
            for prefix, tree in trees:
                key = f"compare_{mb:g}" if prefix else f"cli_{mb:g}"
                samples.setdefault(key, []).append(cli_stamp(files[mb], tree))
    res: dict = {"uptime": os.getloadavg()}
    size = files[args.mb].stat().st_size / 2**20
    ip = samples["inproc"]
    t_stamp, t_floor = min(s["stamp"] for s in ip), min(s["floor"] for s in ip)
    cpu_stamp, cpu_floor = min(s["stamp_cpu"] for s in ip), min(s["floor_cpu"] for s in ip)
    rise = max(s["rss"] - s["rss_before"] for s in ip)
    res["inproc"] = {
        "mb": round(size, 1),
        "input": args.input,
        "stamp_s": round(t_stamp, 3),
        "floor_s": round(t_floor, 3),
        "ratio": round(t_stamp / t_floor, 2),
        "stamp_cpu_s": round(cpu_stamp, 3),
        "floor_cpu_s": round(cpu_floor, 3),
        "rss_rise_mb": round(rise, 1),
        "rss_rise_x_file": round(rise / size, 2),
    }
    if args.compare:
        cp = samples["compare_inproc"]
        c_stamp, c_floor = min(s["stamp"] for s in cp), min(s["floor"] for s in cp)
        res["inproc"] |= {
            "compare_stamp_s": round(c_stamp, 3),
            "compare_floor_s": round(c_floor, 3),
            "compare_ratio": round(c_stamp / c_floor, 2),
            "compare_stamp_cpu_s": round(min(s["stamp_cpu"] for s in cp), 3),
            "ratio_vs_compare": round(t_stamp / c_stamp, 2),
        }
    empty_t, empty_rss, _ = best(samples["empty_cli"])
    empty_floor_t, empty_floor_rss, _ = best(samples["empty_floor"])
    res["empty"] = {"cli_s": round(empty_t, 3), "cli_rss_mb": round(empty_rss, 1),
                    "floor_s": round(empty_floor_t, 3), "floor_rss_mb": round(empty_floor_rss, 1)}  # fmt: skip
    for mb in args.cli_mb:
        size = files[mb].stat().st_size / 2**20
        t_cli, rss_cli, cpu_cli = best(samples[f"cli_{mb:g}"])
        t_fl, rss_fl, cpu_fl = best(samples[f"floor_{mb:g}"])
        res[f"cli_{mb:g}"] = {
            "mb": round(size, 1),
            "cli_s": round(t_cli, 3),
            "floor_s": round(t_fl, 3),
            "ratio": round(t_cli / t_fl, 2),
            "over_floor_s": round(t_cli - t_fl, 3),
            # each round's CLI time less that round's floor (seconds apart; the bests above may not be)
            "over_floor_per_round_s": sorted(
                round(cli[0] - fl[0], 3)
                for cli, fl in zip(samples[f"cli_{mb:g}"], samples[f"floor_{mb:g}"], strict=True)
            ),
            "cli_cpu_s": round(cpu_cli, 3),
            "floor_cpu_s": round(cpu_fl, 3),
            "cli_rss_mb": round(rss_cli, 1),
            "cli_rss_x_file": round(rss_cli / size, 2),
            "cli_rss_rise_x_file": round((rss_cli - empty_rss) / size, 2),
            "floor_rss_x_file": round(rss_fl / size, 2),
        }
        if args.compare:
            t_cmp, rss_cmp, cpu_cmp = best(samples[f"compare_{mb:g}"])
            res[f"cli_{mb:g}"] |= {
                "compare_s": round(t_cmp, 3),
                "compare_cpu_s": round(cpu_cmp, 3),
                "compare_over_floor_s": round(t_cmp - t_fl, 3),
                "compare_rss_mb": round(rss_cmp, 1),
                "ratio_vs_compare": round(t_cli / t_cmp, 2),
            }
    res["pin_unlock_s"] = round(bench_pin_unlock(pki), 3)
    return res


def print_lines(res: dict, args: argparse.Namespace) -> None:
    ip = res["inproc"]
    print(f"uptime load: {' '.join(f'{x:.2f}' for x in res['uptime'])}")
    print(f"in-process stamp {ip['mb']} MB (from {ip['input']}): {ip['stamp_s']} s, floor {ip['floor_s']} s")
    print(f"ratio stamp / floor: {ip['ratio']}   (CPU time: {ip['stamp_cpu_s']} s / {ip['floor_cpu_s']} s)")
    if "compare_stamp_s" in ip:
        print(
            f"  compare {args.compare}: stamp {ip['compare_stamp_s']} s (CPU {ip['compare_stamp_cpu_s']} s), "
            f"floor {ip['compare_floor_s']} s: ratio stamp / floor: {ip['compare_ratio']}; "
            f"ratio this / compare: {ip['ratio_vs_compare']}"
        )
    print(f"in-process peak RSS rise: {ip['rss_rise_mb']} MB = {ip['rss_rise_x_file']}x the file")
    e = res["empty"]
    print(
        f"empty run (one-page PDF): cli {e['cli_s']} s, {e['cli_rss_mb']} MB; floor process {e['floor_s']} s"
    )
    for mb in args.cli_mb:
        c = res[f"cli_{mb:g}"]
        print(
            f"CLI stamp {c['mb']} MB: {c['cli_s']} s vs floor {c['floor_s']} s: ratio cli / floor: {c['ratio']}"
            f", floor + {c['over_floor_s']} s (CPU {c['cli_cpu_s']} s vs {c['floor_cpu_s']} s); peak RSS {c['cli_rss_mb']} MB = {c['cli_rss_x_file']}x the file"
            f" ({c['cli_rss_rise_x_file']}x over the empty run; floor process {c['floor_rss_x_file']}x)"
        )
        per_round = c["over_floor_per_round_s"]
        print(
            f"  per round, CLI less that round's floor: median + {statistics.median(per_round):.3f} s, "
            f"best + {per_round[0]:.3f} s, worst + {per_round[-1]:.3f} s"
        )
        if "compare_s" in c:
            print(
                f"  compare {args.compare}: {c['compare_s']} s, floor + {c['compare_over_floor_s']} s "
                f"(CPU {c['compare_cpu_s']} s), peak RSS "
                f"{c['compare_rss_mb']} MB; ratio this / compare: {c['ratio_vs_compare']}"
            )
    print(f"soft token PIN unlock (argon2id): {res['pin_unlock_s']} s")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_inproc(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100, help="the in-process stamp's file size")
    ap.add_argument("--cli-mb", type=float, nargs="*", default=[60, 100], help="the CLI runs' file sizes")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--input", choices=["path", "bytes"], default="path", help="how stamp() gets the file")
    ap.add_argument("--compare", type=Path, help="another checkout whose CLI runs are interleaved with ours")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        res = bench_all(tmp, args)
    if args.json:
        print(json.dumps(res, indent=2, ensure_ascii=False))
    print_lines(res, args)


if __name__ == "__main__":
    main()
