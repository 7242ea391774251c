"""Sealed one-page documents for batch runs (benchmarks): an SM2 seal holder under its own root, and
PDFs/OFDs stamped in-process with it, written once into a folder and reused while the code is the same."""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@dataclass(frozen=True)
class SealHolder:
    signer: object  # formats.keysigner.KeySigner
    seal: bytes
    root: bytes


def seal_holder() -> SealHolder:
    from formats.gm import SM2PrivateKey
    from formats.keysigner import KeySigner
    from formats.picture import draw_round_seal
    from formats.ses.build import build_seal_v4
    from formats.x509 import build_certificate

    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=365)
    ca = SM2PrivateKey.generate()
    root = build_certificate({"common_name": "批量验证测试根"}, ca.public_key, None, ca, ca=True,
                             not_before=start, not_after=end)  # fmt: skip
    key = SM2PrivateKey.generate()
    cert = build_certificate({"common_name": "李四", "organization_name": "示例科技有限公司"}, key.public_key,
                             root, ca, not_before=start, not_after=end)  # fmt: skip
    picture = draw_round_seal("示例科技有限公司", "合同专用章", diameter_mm=40, px_per_mm=4)
    seal = build_seal_v4(esid="batch0001", name="示例科技有限公司合同专用章", seal_type=2, vid="bench",
                         certs=[cert], picture=("png", picture, 40, 40), valid_start=start, valid_end=end,
                         maker_key=ca, maker_cert_der=root)  # fmt: skip
    return SealHolder(KeySigner(key, cert, [root]), seal, root)


def sealed(kind: str, n: int, holder: SealHolder) -> bytes:
    """One-page document number `n` ("pdf" or "ofd") with one seal of `holder`."""
    from devkit.documents import one_page_pdf
    from stamping.documents import document_format
    from stamping.options import StampOptions
    from stamping.placement import At

    data = one_page_pdf(n) if kind == "pdf" else (SAMPLES / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    out = io.BytesIO()
    document_format(data).stamp(
        data, out, holder.signer, holder.seal, [At(page=1, x=150, y=60)], StampOptions()
    )
    return out.getvalue()


_HOLDER: SealHolder | None = None


def _init(holder: SealHolder) -> None:
    global _HOLDER
    _HOLDER = holder


def _write(job: tuple[str, int, str]) -> None:
    kind, n, path = job
    assert _HOLDER is not None
    Path(path).write_bytes(sealed(kind, n, _HOLDER))


def sealed_folder(folder: Path, pdfs: int, ofds: int, workers: int = 2) -> bytes:
    """Fill `folder` with `pdfs` sealed PDFs and `ofds` sealed OFDs (reused when already there, with
    the root in root.der beside them); returns the root certificate (DER) to trust."""
    from formats.gm.keys import load_certificate

    folder.mkdir(parents=True, exist_ok=True)
    docs = folder / "docs"
    root_file = folder / "root.der"
    wanted = [("pdf", i) for i in range(pdfs)] + [("ofd", i) for i in range(ofds)]
    paths = {(k, i): docs / f"{k}-{i:05d}.{k}" for k, i in wanted}
    if root_file.exists() and all(p.exists() for p in paths.values()):
        return load_certificate(root_file.read_bytes()).dump()
    docs.mkdir(exist_ok=True)
    for p in docs.iterdir():
        p.unlink()
    holder = seal_holder()
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(holder,)) as pool:
        list(pool.map(_write, [(k, i, str(p)) for (k, i), p in paths.items()], chunksize=16))
    root_file.write_bytes(holder.root)
    return holder.root
