"""Start-up of the `sealbridge` program, whole processes: `--version`, `--help` and `verify` of a small
sealed PDF and OFD, each against `python -c pass` measured in the same run (interleaved, best of N).

    .venv/bin/python bench/cli_start.py [--repeat 5] [--compare OLD_TREE]

The program is run from this source tree (PYTHONPATH), through the console script next to the Python
running the benchmark (or `python -m sealbridge` when there is none); `--compare` also runs another
source tree (e.g. `git worktree add /tmp/old <commit>`), interleaved, and prints new / old. Target
(issue 18): `--version` ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installed import prepare  # noqa: E402 - bench/, this script's folder

from devkit.sealed import seal_holder, sealed  # noqa: E402


def program() -> list[str]:
    script = Path(sys.executable).parent / "sealbridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sealbridge"]


def seconds(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if res.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.decode()[-400:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compare", type=Path, help="another source tree to measure in the same run")
    args = ap.parse_args()
    trees = {"": REPO, **({"old ": args.compare.resolve()} if args.compare else {})}
    envs = {label: {**os.environ, "PYTHONPATH": str(tree)} for label, tree in trees.items()}
    for tree in trees.values():
        prepare(tree)
    sb = program()
    with tempfile.TemporaryDirectory() as tmp:
        holder = seal_holder()
        root = Path(tmp) / "root.der"
        root.write_bytes(holder.root)
        cases: dict[str, list[str]] = {"python -c pass": [sys.executable, "-c", "pass"]}
        cases["sealbridge --version"] = [*sb, "--version"]
        cases["sealbridge --help"] = [*sb, "--help"]
        for kind in ("pdf", "ofd"):
            doc = Path(tmp) / f"small.{kind}"
            doc.write_bytes(sealed(kind, 1, holder))
            cases[f"sealbridge verify small.{kind}"] = [
                *sb,
                "verify",
                str(doc),
                "--trust",
                str(root),
                "--json",
            ]
        runs = [(label + name, cmd, env) for name, cmd in cases.items() for label, env in envs.items()]
        runs = [r for r in runs if not (r[0].startswith("old ") and r[0].endswith("pass"))]
        for _, cmd, env in runs:  # warm the page cache and the .pyc files once
            seconds(cmd, env)
        best = {name: float("inf") for name, _, _ in runs}
        for _ in range(args.repeat):  # interleaved: the machine is shared
            for name, cmd, env in runs:
                best[name] = min(best[name], seconds(cmd, env))
    base = best["python -c pass"]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min); best of {args.repeat}")
    for name, took in best.items():
        old = best.get("old " + name)
        versus = f"   new / old: {took / old:5.2f}" if old else ""
        print(f"{name:36s} {took:6.3f} s   ratio / python -c pass: {took / base:5.1f}{versus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
