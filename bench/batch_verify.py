"""Documents per second for `sealbridge verify DIR --json --jobs N` over 1,000 one-page sealed PDFs and
1,000 one-page sealed OFDs (whole process), against the old way — one `sealbridge verify FILE --json`
process per document, N at a time on the same cores — over a sample, in the same run.

    .venv/bin/python bench/batch_verify.py [--pdfs 1000] [--ofds 1000] [--jobs 2] [--sample 50]
        [--tree DIR]   # run the program from another source tree (e.g. an older checkout: --baseline-only)

The documents are made once (SM2 seal holder under its own root, stamped in-process) and kept in
$TMPDIR/sealbridge-bench-batch; delete it to make new ones. Target (issue 18): ≥ 200 documents/s on 2 cores.
Peak RSS is the largest process of the run (the parent or one worker).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devkit.sealed import sealed_folder  # noqa: E402


def program() -> list[str]:
    script = Path(sys.executable).parent / "sealbridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sealbridge"]


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system of the process and the workers it waited for
    peak_rss_kib: int  # the largest of those processes


def run(cmd: list[str], env: dict[str, str], check: Callable[[IO[bytes]], None]) -> Run:
    """One whole process; `check` reads its output (line by line: the bench itself stays small, since
    a child's peak RSS counts what it shared with this process when it was forked)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - start
        proc.returncode = 0  # reaped above
        out.seek(0)
        check(out)
    return Run(took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def batch(docs: Path, root: Path, jobs: int, env: dict[str, str], expected: int) -> Run:
    def check(out: IO[bytes]) -> None:
        verdicts = Counter(json.loads(line).get("verdict") for line in out)
        if verdicts != Counter({"valid": expected}):
            raise SystemExit(f"the batch run gave {dict(verdicts)}, not {expected} valid")

    cmd = [*program(), "verify", str(docs), "--trust", str(root), "--json", "--jobs", str(jobs)]
    return run(cmd, env, check)


def one_by_one(files: list[Path], root: Path, jobs: int, env: dict[str, str]) -> Run:
    """`files`, one process each, `jobs` at a time."""

    def check(out: IO[bytes]) -> None:
        if json.loads(out.read())["verdict"] != "valid":
            raise SystemExit("a document did not verify")

    def one(path: Path) -> Run:
        return run([*program(), "verify", str(path), "--trust", str(root), "--json"], env, check)

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        runs = list(pool.map(one, files))
    took = time.perf_counter() - start
    return Run(took, sum(r.cpu_seconds for r in runs), max(r.peak_rss_kib for r in runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdfs", type=int, default=1000)
    ap.add_argument("--ofds", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sample", type=int, default=50, help="documents verified one process each")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tree", type=Path, default=REPO, help="source tree whose program is measured")
    ap.add_argument("--baseline-only", action="store_true", help="only one process per file (old trees)")
    args = ap.parse_args()
    from installed import prepare  # bench/, this script's folder

    prepare(args.tree.resolve())  # its processes start as an installation's do
    cache = Path(tempfile.gettempdir()) / "sealbridge-bench-batch"
    t0 = time.perf_counter()
    root_der = sealed_folder(cache, args.pdfs, args.ofds)
    root = cache / "root.der"
    root.write_bytes(root_der)
    docs = cache / "docs"
    files = sorted(docs.iterdir())
    n = len(files)
    print(f"{args.pdfs} PDFs + {args.ofds} OFDs ready in {time.perf_counter() - t0:.1f} s ({docs})")
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
    sample = random.Random(18).sample(files, min(args.sample, n))
    one_by_one(sample[:2], root, 1, env)  # warm the page cache and the .pyc files
    singles: list[Run] = []
    batches: list[Run] = []
    for _ in range(args.repeat):  # interleaved, best of each: the machine is shared
        singles.append(one_by_one(sample, root, args.jobs, env))
        if not args.baseline_only:
            batches.append(batch(docs, root, args.jobs, env, n))
    load = os.getloadavg()
    single = min(singles, key=lambda r: r.seconds)
    per_doc = single.seconds / len(sample)
    print(f"load: {load[0]:.2f} {load[1]:.2f} (1, 5 min); {os.cpu_count()} CPUs; best of {args.repeat}")
    print(
        f"one process per file ({args.jobs} at a time, {len(sample)} sampled): {1 / per_doc:7.1f} docs/s "
        f"({per_doc * 1000:.0f} ms/doc, CPU {single.cpu_seconds / len(sample) * 1000:.0f} ms/doc; {n} docs "
        f"≈ {per_doc * n:.0f} s); peak RSS {single.peak_rss_kib / 1024:.0f} MiB"
    )
    if args.baseline_only:
        return 0
    best = min(batches, key=lambda r: r.seconds)
    print(
        f"batch verify --jobs {args.jobs}: {n / best.seconds:7.1f} docs/s ({best.seconds:.2f} s for {n}; "
        f"CPU {best.cpu_seconds / n * 1000:.1f} ms/doc, i.e. {args.jobs / (best.cpu_seconds / n):.0f} docs/s "
        f"on {args.jobs} idle cores); peak RSS {best.peak_rss_kib / 1024:.0f} MiB"
    )
    print(f"ratio batch / one-process-per-file: {(n / best.seconds) / (1 / per_doc):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
