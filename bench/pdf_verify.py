"""PDF verification benchmark: a ~50 MB PDF with 10 seals, verified by whole processes.

    .venv/bin/python bench/pdf_verify.py [--mb 50] [--seals 10] [--kinds ecdsa,sm2] [--rounds 3]
                                         [--compare OLD_TREE] [--docs DIR] [--busy N]

For each kind of key (ECDSA P-256 and SM2), every round runs, interleaved, as fresh processes:
  (a) ours:  `sealbridge verify FILE --json --trust ROOT` (the console script in .venv/bin);
  (b) stock: a plain pyHanko script validating every signature with a ValidationContext that trusts the
      test root (for SM2 stock pyHanko cannot check the signature, so it gets our GmSignatureValidator hook);
  (c) start-up: `sealbridge --version`.
`--compare OLD_TREE` also runs (a) from another source tree (PYTHONPATH, e.g. `git archive main | tar -x
-C /tmp/base`), interleaved in the same rounds, and prints ours / old. `--docs DIR` takes KIND.pdf and
KIND-root.der from DIR instead of building them (and keeps them).
The floor is one SM3 pass over the file in-process (streamed, best of N) plus the start-up of (c).
Best of N for each, and each round's own ratio of (a) to that round's floor (median, best, worst); the
contenders take turns at going first. Peak RSS of each process from wait4(). Also in-process (in a child): ours
stamping.pdf.verify against pyHanko over all signatures, on the bytes already in memory.
The parent stays small (documents are built and the in-process figures taken in child processes): a forked
child starts with its parent's peak RSS, which would otherwise mask every child's own.

(a) spreads its work over two CPUs (a child hashes while the CLI imports and analyses, then a helper shares
the checks); the floor's SM3 pass uses one. So the ratio to the floor holds only while both CPUs are free:
the CPUs (a) used are printed, and `--busy N` measures with N other sessions each keeping a CPU busy (with
one, on two CPUs, (a) gets about one: the ratio to the floor was 2.3-2.8 where it was 1.4 on idle CPUs).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import BUSY_HELP, busy_line, competitors, cores_line, load_line  # noqa: E402 - bench/, this script's folder

SEALBRIDGE = Path(sys.executable).parent / "sealbridge"

STOCK_SCRIPT = """
import io, sys
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

path, root_path, kind = sys.argv[1], sys.argv[2], sys.argv[3]
extra = {}
if kind == "sm2":  # stock pyHanko has no SM2: give it our validator hook and OIDs
    from stamping.pdf.sm2_pyhanko import GmSignatureValidator, register_oids
    register_oids()
    extra["signature_validator"] = GmSignatureValidator()
root = x509.Certificate.load(open(root_path, "rb").read())
with open(path, "rb") as f:
    reader = PdfFileReader(f)
    sigs = reader.embedded_signatures
    for sig in sigs:
        vc = ValidationContext(trust_roots=[root], **extra)
        status = validate_pdf_signature(sig, vc)
        assert status.intact and status.valid and status.trusted, status.summary()
print(len(sigs))
"""


def build_document(tmp: Path, kind: str, size_mb: float, seals: int) -> tuple[Path, Path]:
    """A PDF of about size_mb with `seals` seals, each its own incremental revision; and its root (DER)."""
    from bench.pdf_stamp import write_pdf  # the stamping benchmark's document: 20 pages, filler images
    from devkit.pdf_parties import make_party
    from formats.gm import SM2PrivateKey
    from formats.picture import draw_round_seal
    from formats.x509 import build_certificate
    from stamping.options import StampOptions
    from stamping.pdf import stamp
    from stamping.placement import At

    maker = SM2PrivateKey.generate()
    maker_cert = build_certificate({"common_name": "Bench Seal Maker"}, maker, None, maker)
    picture = draw_round_seal("基准测试有限公司", "专用章", diameter_mm=40, px_per_mm=6)
    party = make_party(kind, (maker, maker_cert), picture)
    pdf, root, plain = tmp / f"{kind}.pdf", tmp / f"{kind}-root.der", tmp / f"{kind}-unsigned.pdf"
    root.write_bytes(party.root)
    write_pdf(plain, size_mb)
    with open(pdf, "w+b") as out:
        spots = [At(1 + i % 20, 50, 50) for i in range(seals)]
        stamp(plain.read_bytes(), out, party.signer, party.seal, spots, StampOptions())
    plain.unlink()
    return pdf, root


def run_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, bytes, float]:
    """(wall seconds, peak RSS MB, stdout, CPU seconds) of one child process, measured with wait4()."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read() if proc.stderr else b""
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0,):
        raise SystemExit(f"{argv[:3]} exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, text, usage.ru_utime + usage.ru_stime


def sm3_pass(path: Path) -> float:
    from formats.gm import sm3_file

    t0 = time.perf_counter()
    sm3_file(path)
    return time.perf_counter() - t0


def in_process(pdf: Path, root: Path, kind: str, seals: int, rounds: int) -> dict[str, float]:
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from stamping.options import VerifyOptions
    from stamping.pdf import verify
    from stamping.pdf.sm2_pyhanko import GmSignatureValidator

    data, root_der = pdf.read_bytes(), root.read_bytes()

    def ours() -> None:
        report = verify(data, VerifyOptions(trust_anchors=[root_der]))
        assert [s.verdict for s in report.seals] == ["valid"] * seals, report.to_dict()

    def stock() -> None:
        anchors = [x509.Certificate.load(root_der)]
        extra = {"signature_validator": GmSignatureValidator()} if kind == "sm2" else {}
        for sig in PdfFileReader(io.BytesIO(data)).embedded_signatures:
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=anchors, **extra))
            assert status.intact and status.valid

    times: dict[str, list[float]] = {"ours": [], "stock": []}
    for _ in range(rounds):
        for name, fn in (("ours", ours), ("stock", stock)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(values) for name, values in times.items()}


def bench_kind(
    tmp: Path, kind: str, size_mb: float, seals: int, rounds: int, old: Path | None, docs: Path | None
) -> None:
    folder = docs or tmp
    pdf, root = folder / f"{kind}.pdf", folder / f"{kind}-root.der"
    me = [sys.executable, __file__]
    if docs is None:
        subprocess.run([*me, "--build", kind, str(tmp), str(size_mb), str(seals)], check=True)
    script = tmp / "stock_pyhanko.py"
    script.write_text(STOCK_SCRIPT)
    env_python = sys.executable
    verify = [str(SEALBRIDGE), "verify", str(pdf), "--json", "--trust", str(root)]
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "ours": (verify, _tree_env(ROOT)),
        "stock": ([env_python, str(script), str(pdf), str(root), kind], _tree_env(ROOT)),
        "startup": ([str(SEALBRIDGE), "--version"], _tree_env(ROOT)),
    }
    if old is not None:
        commands["old"] = (verify, _tree_env(old))
    sm3_pass(pdf)  # warm the page cache: every contender reads the file from memory
    best: dict[str, tuple[float, float]] = {}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    sm3_times = []
    names = list(commands)
    for r in range(rounds):
        # Each round in another order: what ran just before (a large process's freed memory, a busy spell)
        # falls on each contender in turn, not always on the same one.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            argv, env = commands[name]
            seconds, rss, out, cpu_s = run_process(argv, env)
            walls[name].append(seconds)
            cpus[name].append(cpu_s)
            if name in ("ours", "old"):
                report = json.loads(out)
                verdicts = [s["verdict"] for s in report["seals"]]
                assert verdicts == ["valid"] * seals, verdicts
            if name == "stock":
                assert int(out.split()[-1]) == seals, out
            prev = best.get(name)
            best[name] = (min(seconds, prev[0]) if prev else seconds, max(rss, prev[1]) if prev else rss)
        sm3_times.append(sm3_pass(pdf))
    sm3_s = min(sm3_times)
    cpu = {name: min(values) for name, values in cpus.items()}
    floor = sm3_s + best["startup"][0]
    ours, stock = best["ours"][0], best["stock"][0]
    size = pdf.stat().st_size / 1e6
    print(f"== {kind}: {size:.1f} MB, {seals} seals, best of {rounds}, whole processes ==")
    labels = [("ours", "sealbridge verify --json"), ("stock", "stock pyHanko script"),
              ("startup", "sealbridge --version")]  # fmt: skip
    if old is not None:
        labels.insert(1, ("old", "same, --compare tree"))
    for name, label in labels:
        print(
            f"  {label:28s} {best[name][0]:7.3f} s   CPU {cpu[name]:6.3f} s   peak RSS {best[name][1]:7.1f} MB"
        )
    print(f"  {'one SM3 pass (in-process)':28s} {sm3_s:7.3f} s")
    print(f"  ratio ours / stock pyHanko: {ours / stock:.2f}   (target <= 0.33)")
    print(f"  ratio ours / (one SM3 pass + start-up): {ours / floor:.2f}   (target <= 1.5)")
    # A best of N picks each contender's luckiest run; the medians show how steady that was.
    med = {name: statistics.median(values) for name, values in walls.items()}
    print(
        f"  medians: ours {med['ours']:.3f} s, stock {med['stock']:.3f} s, start-up {med['startup']:.3f} s, "
        f"SM3 pass {statistics.median(sm3_times):.3f} s; ours / stock {med['ours'] / med['stock']:.2f}, "
        f"ours / (SM3 pass + start-up) {med['ours'] / (statistics.median(sm3_times) + med['startup']):.2f}"
    )
    # Each round's own ratio: ours against the SM3 pass and start-up measured in that round, seconds apart
    # (the best of each, above, may come from different moments of a machine whose speed wanders).
    paired = [o / (h + s) for o, h, s in zip(walls["ours"], sm3_times, walls["startup"], strict=True)]
    print(
        f"  per round, ours / (that round's SM3 pass + start-up): median {statistics.median(paired):.2f}, "
        f"best {min(paired):.2f}, worst {max(paired):.2f}"
    )
    # A shared machine stretches wall times; CPU seconds are steadier (ours includes its hashing child and
    # helper: wait4() counts the children a process waited for).
    print(f"  CPU ratio ours / stock pyHanko: {cpu['ours'] / cpu['stock']:.2f}")
    print(f"  CPU ratio ours / (one SM3 pass + start-up): {cpu['ours'] / (sm3_s + cpu['startup']):.2f}")
    print(f"  {cores_line('ours', walls['ours'], cpus['ours'])}")
    if old is not None:
        print(
            f"  --compare: ours / old {ours / best['old'][0]:.2f} (wall), {cpu['ours'] / cpu['old']:.2f} (CPU); "
            f"old / stock pyHanko {best['old'][0] / stock:.2f}, "
            f"old / (one SM3 pass + start-up) {best['old'][0] / floor:.2f}"
        )
    _, _, out, _ = run_process([*me, "--inproc", str(pdf), str(root), kind, str(seals), str(rounds)])
    inproc = json.loads(out)
    print(
        f"  in-process: ours {inproc['ours']:.3f} s, pyHanko {inproc['stock']:.3f} s, "
        f"ratio {inproc['ours'] / inproc['stock']:.2f}; ours / SM3 pass {inproc['ours'] / sm3_s:.2f}"
    )
    if docs is None:
        pdf.unlink()


def _tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def main() -> None:
    if sys.argv[1:2] == ["--build"]:
        kind, tmp, size_mb, seals = sys.argv[2:6]
        build_document(Path(tmp), kind, float(size_mb), int(seals))
        return
    if sys.argv[1:2] == ["--inproc"]:
        pdf, root, kind, seals, rounds = sys.argv[2:7]
        print(json.dumps(in_process(Path(pdf), Path(root), kind, int(seals), int(rounds))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--seals", type=int, default=10)
    ap.add_argument("--kinds", default="ecdsa,sm2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="another source tree, run interleaved: ours / old")
    ap.add_argument("--docs", type=Path, help="a folder with KIND.pdf and KIND-root.der to use (not built)")
    ap.add_argument("--busy", type=int, default=0, help=BUSY_HELP)
    args = ap.parse_args()
    from installed import prepare  # bench/, this script's folder

    prepare(ROOT)
    if args.compare:
        prepare(args.compare)
    print(load_line())
    with tempfile.TemporaryDirectory() as d, competitors(args.busy):
        for kind in args.kinds.split(","):
            bench_kind(Path(d), kind.strip(), args.mb, args.seals, args.rounds, args.compare, args.docs)
    if args.busy:
        print(busy_line(args.busy))
    print(load_line())


if __name__ == "__main__":
    main()
