"""Drive the fuzz worker: seeds → seeded mutants → one worker subprocess per run, restarted after a hang.

    python -m tests.fuzz.run --n 20000 [--seed 1] [--out DIR]      (make fuzz N=20000)

What counts as a finding: an exception outside the product's error class, an input that takes more than
5 CPU seconds (or hangs: the worker is killed after HANG_SECONDS of wall time), a worker whose peak RSS
passes 512 MiB, and a mutant whose signed bytes changed but which is reported valid (false valid).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.mutators import mutate

REPO = Path(__file__).resolve().parents[2]
KINDS = ("pdf", "ofd", "seal", "frame")
MAX_CPU_SECONDS = 5.0
MAX_RSS = 512 << 20
HANG_SECONDS = 60.0  # wall time on a shared, loaded machine; the 5 s bound is on CPU time


@dataclass
class Seed:
    kind: str
    name: str
    data: bytes
    #: PDF: the original's signed byte ranges; OFD: the inflated bytes of every signed entry; seal: the
    #: SHA-256 of the bytes the maker signed (filled in from the worker's answer on the original).
    signed: Any = None


@dataclass
class Summary:
    inputs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    verdicts: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    slowest: dict[str, Any] = field(default_factory=lambda: {"cpu_seconds": 0.0})
    peak_rss: int = 0
    false_valid: int = 0
    hangs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "total": sum(self.inputs.values()),
            "verdicts": self.verdicts,
            "slowest": self.slowest,
            "peak_rss_mib": round(self.peak_rss / (1 << 20), 1),
            "false_valid": self.false_valid,
            "hangs": self.hangs,
            "findings": len(self.findings),
        }


# -- what "the signed bytes changed" means per kind ----------------------------------------------------------


def pdf_signed_ranges(pdf: bytes) -> list[tuple[int, int]]:
    import re

    ranges = []
    for m in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf):
        a, b, c, d = (int(v) for v in m.groups())
        ranges += [(a, a + b), (c, c + d)]
    return ranges


def ofd_signed_entries(ofd: bytes) -> dict[str, bytes]:
    """Every Signature.xml and every file a signature references, inflated, by lower-case package path."""
    from formats.ofd import OfdPackage, read_signature_list, read_signature_xml
    from formats.ofd.document import doc_bodies
    from formats.ofd.locs import resolve
    from formats.ofd.xmlsafe import child_text

    pkg = OfdPackage(ofd)
    _, bodies = doc_bodies(pkg)
    loc = child_text(bodies[0], "Signatures")
    if not loc:
        return {}
    entries, _ = read_signature_list(pkg, resolve(loc, "/OFD.xml"))
    out: dict[str, bytes] = {}
    for entry in entries:
        sig = read_signature_xml(pkg, entry.path)
        for path in [entry.path, *(r.path for r in sig.references)]:
            name = pkg.find(path)
            if name is not None:
                out[name.lower()] = pkg.read(name)
    return out


def signed_bytes_changed(seed: Seed, mutant: bytes, answer: dict[str, Any]) -> bool:
    if seed.kind == "pdf":
        return any(mutant[s:e] != seed.data[s:e] for s, e in seed.signed) or not seed.signed
    if seed.kind == "ofd":
        if not seed.signed:
            return True
        try:
            with zipfile.ZipFile(io.BytesIO(mutant)) as z:
                names = {n.lstrip("/").lower(): n for n in z.namelist()}
                for name, body in seed.signed.items():
                    if name not in names or z.read(names[name]) != body:
                        return True
        except Exception:  # noqa: BLE001 - not a readable zip: nothing signed survives in it
            return True
        return False
    if seed.kind == "seal":
        return answer.get("signed_sha256") != seed.signed
    return False


# -- seeds ---------------------------------------------------------------------------------------------------


def _stamp_cli(argv: list[str]) -> None:
    from sealbridge.cli import main

    if main([*argv, "--json"]) != 0:
        raise RuntimeError(f"stamping a seed failed: {argv}")


def build_seeds(dev_pki: Any, samples: Path, workdir: Path) -> list[Seed]:
    """Documents stamped with the dev PKI (valid with its roots, so false valids can show), samples from
    other producers, seals, and protocol frames."""
    import pikepdf

    from agent.server import protocol as proto

    seeds: list[Seed] = []
    blank = workdir / "blank.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.add_blank_page()
        pdf.save(blank)
    for token in ("sm2", "rsa"):
        out = workdir / f"seed-{token}.pdf"
        _stamp_cli(["stamp", str(blank), "-o", str(out), "--token", f"soft:{dev_pki.tokens[token]}",
                    "--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=50,y=50"])  # fmt: skip
        seeds.append(Seed("pdf", out.name, out.read_bytes()))
    ofd_in = samples / "ofd" / "unsigned-helloworld.ofd"
    out = workdir / "seed-sm2.ofd"
    _stamp_cli(["stamp", str(ofd_in), "-o", str(out), "--token", f"soft:{dev_pki.tokens['sm2']}",
                "--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=50,y=50"])  # fmt: skip
    seeds.append(Seed("ofd", out.name, out.read_bytes()))
    for name in ("gomain-invoice-v4.ofd", "ofdrw-v4.ofd", "gomain-pkcs7-two-signs.ofd", "kinggrid-v1.ofd"):
        seeds.append(Seed("ofd", name, (samples / "ofd" / name).read_bytes()))
    seeds.append(Seed("seal", "dev-sm2.esl", dev_pki.seals["sm2"].read_bytes()))
    for name in ("ofdrw-v4.esl", "ofdrw-v1.esl"):
        seeds.append(Seed("seal", name, (samples / "seals" / name).read_bytes()))
    doc = {"id": "ab" * 16, "size": 10, "sm3": "cd" * 32, "name": "合同.pdf"}
    origin = {"top": "https://portal.example.cn", "frame": "https://portal.example.cn"}
    requests = [
        {"method": "auth", "params": {"client_nonce": "00" * 32, "mac": "11" * 32}},
        {"method": "hello", "params": {"client": "fuzz", "protocol": 1}},
        {"method": "stamp", "params": {"origin": origin, "document": doc,
                                       "placements": [{"type": "at", "page": 1, "x": 60, "y": 60}]}},
        {"method": "verify", "params": {"origin": origin, "document": doc}},
        {"method": "approve", "params": {"request_id": "ef" * 16, "seal_id": "1234", "pin": "123456"}},
    ]  # fmt: skip
    for i, req in enumerate(requests):
        text = json.dumps({"jsonrpc": "2.0", "id": i + 1, **req}, ensure_ascii=False)
        seeds.append(Seed("frame", f"text-{req['method']}", b"T" + text.encode()))
    for i, frame in enumerate(proto.split_chunks(proto.KIND_UPLOAD, "ab" * 16, b"%PDF-1.7 " * 40, 200)):
        seeds.append(Seed("frame", f"chunk-{i}", b"B" + frame))
    for seed in seeds:
        if seed.kind == "pdf":
            seed.signed = pdf_signed_ranges(seed.data)
        elif seed.kind == "ofd":
            seed.signed = ofd_signed_entries(seed.data)
    return seeds


# -- the worker ----------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, anchors: list[Path], workdir: Path) -> None:
        self.anchors = anchors
        self.input = workdir / "input.bin"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker", *map(str, self.anchors)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )  # fmt: skip
        if json.loads(self._line(HANG_SECONDS * 2)).get("ready") is not True:
            raise RuntimeError("the fuzz worker did not start")

    def _line(self, timeout: float) -> str:
        import selectors

        assert self.proc is not None and self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise TimeoutError
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError(f"the worker exited with {self.proc.wait()}")
        return line

    def check(self, kind: str, data: bytes) -> dict[str, Any]:
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self.input.write_bytes(data)
        self.proc.stdin.write(json.dumps({"kind": kind, "path": str(self.input)}) + "\n")
        self.proc.stdin.flush()
        try:
            return json.loads(self._line(HANG_SECONDS))
        except TimeoutError:
            self.stop()
            return {"ok": False, "verdict": "hang", "error": f"no answer in {HANG_SECONDS} s"}
        except EOFError as exc:  # killed by the address-space cap, or crashed in C code
            self.proc = None
            return {"ok": False, "verdict": "crash", "error": str(exc)}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def run(
    seeds: list[Seed], n: int, seed: int, anchors: list[Path], workdir: Path, progress: bool = False
) -> Summary:
    """`n` mutants in all, spread evenly over the kinds (each from a seed of that kind)."""
    rng = random.Random(seed)
    summary = Summary()
    worker = Worker(anchors, workdir)
    by_kind = {k: [s for s in seeds if s.kind == k] for k in KINDS}
    try:
        for s in seeds:  # the originals first: they must pass, and seals give their signed digest
            answer = worker.check(s.kind, s.data)
            if not answer["ok"]:
                raise RuntimeError(f"seed {s.name} fails by itself: {answer.get('error')}")
            if s.name.startswith("seed-") and answer.get("verdict") != "valid":
                # Stamped with the dev PKI whose roots the worker trusts: unless the original is valid,
                # a mutant reported valid could not show up at all.
                raise RuntimeError(f"seed {s.name} is {answer.get('verdict')}, not valid")
            if s.kind == "seal":
                s.signed = answer.get("signed_sha256")
        per_kind = max(1, n // len(KINDS))
        for i in range(per_kind * len(KINDS)):
            kind = KINDS[i % len(KINDS)]
            base = rng.choice(by_kind[kind])
            mutant, how = mutate(kind, base.data, rng)
            answer = worker.check(kind, mutant)
            _record(summary, base, mutant, how, answer, workdir)
            if progress and (i + 1) % 500 == 0:
                sys.stderr.write(f"fuzz: {i + 1} inputs, {len(summary.findings)} findings\n")
    finally:
        worker.stop()
    return summary


def _record(
    summary: Summary, base: Seed, mutant: bytes, how: str, answer: dict[str, Any], workdir: Path
) -> None:
    kind = base.kind
    summary.inputs[kind] += 1
    verdict = answer.get("verdict", "?")
    summary.verdicts.setdefault(kind, {})
    summary.verdicts[kind][verdict] = summary.verdicts[kind].get(verdict, 0) + 1
    summary.peak_rss = max(summary.peak_rss, int(answer.get("peak_rss", 0)))
    cpu = float(answer.get("cpu_seconds", 0.0))
    if cpu > summary.slowest["cpu_seconds"]:
        summary.slowest = {"cpu_seconds": round(cpu, 3), "seconds": round(answer.get("seconds", 0.0), 3),
                           "kind": kind, "seed": base.name, "mutation": how}  # fmt: skip
    problems = []
    if not answer.get("ok"):
        problems.append(verdict)
        summary.hangs += verdict == "hang"
    if cpu > MAX_CPU_SECONDS:
        problems.append(f"slow ({cpu:.1f} CPU s)")
    if int(answer.get("peak_rss", 0)) > MAX_RSS:
        problems.append(f"memory ({int(answer['peak_rss']) >> 20} MiB)")
    if verdict == "valid" and mutant != base.data and signed_bytes_changed(base, mutant, answer):
        problems.append("false valid")
        summary.false_valid += 1
    if problems:
        digest = hashlib.sha256(mutant).hexdigest()[:16]
        keep = workdir / "findings" / f"{kind}-{digest}.bin"
        keep.parent.mkdir(exist_ok=True)
        keep.write_bytes(mutant)
        summary.findings.append({"kind": kind, "seed": base.name, "mutation": how, "problems": problems,
                                 "file": str(keep), "error": answer.get("error")})  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="mutants in all (spread over the four kinds)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, help="folder for the seeds and any findings (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    from agent.devpki import make_dev_pki

    workdir = args.out or Path(tempfile.mkdtemp(prefix="sealbridge-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dev_pki = make_dev_pki(workdir / "pki", force=True)
    seeds = build_seeds(dev_pki, REPO.parent / "shared" / "samples", workdir)
    summary = run(seeds, args.n, args.seed, list(dev_pki.roots.values()), workdir, progress=True)
    report = summary.to_dict() | {"seed": args.seed, "workdir": str(workdir)}
    (workdir / "summary.json").write_text(json.dumps(report | {"findings": summary.findings}, indent=1))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    for finding in summary.findings[:20]:
        print(json.dumps(finding, ensure_ascii=False)[:2000])
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())
