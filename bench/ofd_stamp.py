"""Benchmark: stamp a generated 200-page, ~100 MB OFD (one noise JPEG per page) against the floor.

The floor is what any stamper must do at least: read (inflate) and SM3-hash every entry of the package once.
Stamping writes to a real file, as the CLI does. Measured interleaved, best of N; then the peak RSS of a
fresh process that reads the file and stamps it to a file, against the same process reading it only.
`--busy N` measures with N other sessions each keeping a CPU busy.

    .venv/bin/python bench/ofd_stamp.py [--pages 200] [--mb 100] [--repeat 3] [--deflate-images] [--busy N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import busy_line, competitors, load_line  # noqa: E402
from ofd_common import (  # noqa: E402
    ROOT,
    best,
    document_args,
    make_big_ofd,
    make_signer,
    ratio_line,
    read_and_hash_entries,
    run_process,
    timed,
)

from stamping.ofd import stamp, verify  # noqa: E402
from stamping.options import StampOptions, VerifyOptions  # noqa: E402
from stamping.placement import At, Seam  # noqa: E402

_STAMP_PROCESS = """
import resource, sys
from pathlib import Path
src, out, bench_dir, only_read = sys.argv[1:5]
sys.path.insert(0, bench_dir)
from ofd_common import make_signer
from stamping.ofd import stamp
from stamping.options import StampOptions
from stamping.placement import At
signer, seal, _ = make_signer()  # in both runs: the difference is the stamping alone
data = Path(src).read_bytes()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if only_read == "0":
    with open(out, "wb") as f:
        stamp(data, f, signer, seal, [At(page=1, x=150, y=250)], StampOptions())
print(base / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> int:
    ap = document_args(__doc__.splitlines()[0])
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = make_big_ofd(args.pages, args.mb, args.deflate_images)
    size_mb = len(data) / (1 << 20)
    print(f"generated {args.pages} pages, {size_mb:.1f} MiB in {time.perf_counter() - t0:.1f} s")
    signer, seal, root = make_signer()

    placements = [At(page=1, x=150, y=250), At(page=args.pages, x=150, y=250), Seam(side="right")]
    floors: list[float] = []
    stamps: list[float] = []
    floor_cpu: list[float] = []
    stamp_cpu: list[float] = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp, competitors(args.busy):
        out_path = Path(tmp) / "stamped.ofd"
        results = []

        def stamp_to_file() -> None:
            with open(out_path, "wb") as out:
                results.append(stamp(data, out, signer, seal, placements, StampOptions()))

        for _ in range(args.repeat):  # interleaved, best of each: the machine is shared
            wall, cpu = timed(lambda: read_and_hash_entries(data))
            floors.append(wall)
            floor_cpu.append(cpu)
            wall, cpu = timed(stamp_to_file)
            stamps.append(wall)
            stamp_cpu.append(cpu)
        report = verify(out_path.read_bytes(), VerifyOptions(trust_anchors=[root]))
        src = Path(tmp) / "src.ofd"
        src.write_bytes(data)
        bench_dir = str(Path(__file__).resolve().parent)
        argv = [sys.executable, "-c", _STAMP_PROCESS, str(src), str(out_path), bench_dir]
        _, read_peak, _, _, _ = run_process([*argv, "1"], env)
        _, stamp_peak, code, out, _ = run_process([*argv, "0"], env)
        if code != 0:
            print(f"the stamping process failed with exit code {code}")
            return 2
        base_mb, peak_mb = (float(v) for v in out.split())
    print(
        f"stamp (to a file):  {best(stamps)} ({len(results[-1].boxes)} seal images, verdict {report.verdict})"
    )
    print(f"floor (read+SM3):   {best(floors)}")
    print(ratio_line("stamp", stamps, floors, stamp_cpu, floor_cpu))
    print(
        f"peak RSS, fresh process (file {size_mb:.0f} MiB): reading the file {read_peak:.0f} MiB, "
        f"reading and stamping it {stamp_peak:.0f} MiB: increase {stamp_peak - read_peak:.0f} MiB "
        f"= {(stamp_peak - read_peak) / size_mb:.2f}× the file (in-process: {base_mb:.0f} → {peak_mb:.0f} MiB)"
    )
    if args.busy:
        print(busy_line(args.busy))
    print(load_line())
    return 0 if report.verdict == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
