"""What verifying a PDF loads, checked in a real process: only what a verdict or the report needs.

The SM2 fallback (gmssl, pycryptodome) stays unloaded where tongsuopy works, and the product's version
in the report is a constant, not importlib.metadata's scan of sys.path.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from devkit.sealed import seal_holder, sealed
from stamping.reportmeta import PRODUCT_VERSION
from tests.support.fresh_python import REPO, run_python, run_python_ok

#: Loaded by a verifying process only when they are needed; here they are not.
_NOT_NEEDED = ("gmssl", "Cryptodome", "importlib.metadata", "formats.gm._backend_gmssl")


@pytest.fixture(scope="module")
def sealed_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    holder = seal_holder()
    folder = tmp_path_factory.mktemp("loads")
    (folder / "doc.pdf").write_bytes(sealed("pdf", 1, holder))
    (folder / "root.der").write_bytes(holder.root)
    return folder / "doc.pdf", folder / "root.der"


def test_cli_verify_of_a_pdf_loads_no_sm2_fallback_nor_package_metadata(
    sealed_pdf: tuple[Path, Path],
) -> None:
    pdf, root = sealed_pdf
    args = ["verify", str(pdf), "--json", "--trust", str(root)]
    res = run_python(
        "import json, sys\n"
        "from sealbridge.cli import main\n"
        f"rc = main({args!r})\n"
        f"loaded = sorted(m for m in {_NOT_NEEDED!r} if m in sys.modules)\n"
        "print(json.dumps([rc, loaded, 'formats.gm._backend_tongsuo' in sys.modules]), file=sys.stderr)\n"
    )
    rc, loaded, tongsuo = json.loads(res.stderr.strip().splitlines()[-1])
    report = json.loads(res.stdout)
    # The seal's SM2 signatures were checked, with tongsuopy: the fallback had no reason to load.
    assert (rc, tongsuo, loaded) == (0, True, [])
    assert [s["verdict"] for s in report["seals"]] == ["valid"]
    assert report["product"] == {"name": "SealBridge", "version": PRODUCT_VERSION}


def test_the_sm2_fallback_loads_when_asked_for_and_verifies_alike() -> None:
    run_python_ok(
        "import sys\n"
        "from formats.gm import SM2PrivateKey, available_backends\n"
        "assert 'gmssl' not in sys.modules\n"
        "key = SM2PrivateKey.generate()\n"
        "sig = key.sign(b'doc')\n"
        "assert 'gmssl' not in sys.modules\n"
        "assert available_backends() == ['tongsuo', 'gmssl'], available_backends()\n"
        "assert key.public_key.verify(b'doc', sig, backend='gmssl')\n"
        "assert not key.public_key.verify(b'dog', sig, backend='gmssl')\n"
        "print('ok')\n"
    )


def test_the_product_version_constant_is_pyprojects() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert PRODUCT_VERSION == project["version"]


@pytest.mark.parametrize("case", ["sealed", "unreadable"])
def test_cli_verify_runs_without_collector_passes_and_freezes_what_it_made(
    sealed_pdf: tuple[Path, Path], tmp_path: Path, case: str
) -> None:
    pdf, root = sealed_pdf
    if case == "unreadable":
        pdf = tmp_path / "broken.pdf"
        pdf.write_bytes(b"%PDF-1.7\n" + b"\x00" * 64)
    args = ["verify", str(pdf), "--json", "--trust", str(root)]
    res = run_python(
        "import gc, json, sys\n"
        "from sealbridge.cli import main\n"
        "passes = []\n"
        "gc.callbacks.append(lambda phase, info: passes.append(info['generation']) if phase == 'start' else None)\n"
        f"rc = main({args!r})\n"
        "print(json.dumps([rc, gc.isenabled(), gc.get_freeze_count(), passes]), file=sys.stderr)\n"
    )
    rc, enabled, frozen, passes = json.loads(res.stderr.strip().splitlines()[-1])
    assert rc == (0 if case == "sealed" else 2), res.stdout
    # One document and the process ends: no collector pass while it is read, imported for and verified
    # (agent/cli/collector.py); what it made is frozen, so the last pass at exit does not scan it, and the
    # collector is on again for whoever called main().
    assert passes == []
    assert enabled is True
    assert frozen > 20_000


def test_the_sm2_warm_up_loads_the_backend_and_never_fails() -> None:
    """What the first SM2 check would load, loaded by formats.gm.sm2.warm_up (the CLI calls it while the
    digests are being computed); with no usable backend it does nothing, and the first check reports."""
    run_python_ok(
        "import sys\n"
        "from formats.gm.sm2 import _public_handle, warm_up\n"
        "assert 'formats.gm._backend_tongsuo' not in sys.modules\n"
        "warm_up()\n"
        "assert 'formats.gm._backend_tongsuo' in sys.modules and 'tongsuopy' in sys.modules\n"
        "assert _public_handle.cache_info().currsize == 1\n"
        "import os\n"
        "os.environ['SEALBRIDGE_SM2_BACKEND'] = 'no-such-backend'\n"
        "warm_up()\n"
        "print('ok')\n"
    )


def test_only_documents_with_gm_signatures_or_seals_warm_the_sm2_backend(sm2_party, ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from stamping.pdf.verify import _any_ecdsa, _carries_gm
    from tests.support.pdf_flows import pyhanko_sign, stamp_pdf
    from tests.support.pdf_maker import contract_pdf

    def signatures(pdf: bytes) -> list:  # type: ignore[type-arg]
        return list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)

    plain = pyhanko_sign(contract_pdf(1), ecdsa_party, "Plain")
    assert not _carries_gm(signatures(plain))  # a PAdES signature without a seal: no SM2 to verify
    assert _carries_gm(signatures(stamp_pdf(plain, ecdsa_party)))  # an ECDSA seal: its maker signed in SM2
    assert _carries_gm(signatures(stamp_pdf(contract_pdf(1), sm2_party)))
    # cryptography's OpenSSL backend, which its ECDSA verifier loads, only where there is ECDSA to verify
    assert _any_ecdsa(signatures(plain)) and _any_ecdsa(signatures(stamp_pdf(plain, ecdsa_party)))
    assert not _any_ecdsa(signatures(stamp_pdf(contract_pdf(1), sm2_party)))


def test_the_helper_is_given_about_half_of_the_checks(ecdsa_party) -> None:  # type: ignore[no-untyped-def]
    """_shares splits the signatures in two by their difference analysis's weight (one comparison per
    later revision, unless analysed already); what is no pyHanko signature stays here."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from stamping.pdf.verify import _later_revisions, _shares
    from stamping.report import SealReport
    from tests.support.pdf_flows import stamp_pdf
    from tests.support.pdf_maker import contract_pdf

    pdf = contract_pdf(1)
    for _ in range(6):
        pdf = stamp_pdf(pdf, ecdsa_party)
    sigs = list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
    assert sorted(_later_revisions(s) for s in sigs) == [0, 1, 2, 3, 4, 5]
    prepared = [(None, s) for s in sigs] + [(None, SealReport(id="unsupported", type="sign"))]

    def split(analysed: set[int]) -> tuple[int, int]:
        mine, helpers = _shares(prepared, analysed)  # type: ignore[arg-type]
        assert sorted(mine + helpers) == list(range(7)) and 6 in mine and 6 not in helpers
        weight = {i: 2 + (0 if id(sigs[i]) in analysed else _later_revisions(sigs[i])) for i in range(6)}
        return sum(weight[i] for i in mine if i != 6), sum(weight[i] for i in helpers)

    assert split(set()) == (13, 14)  # weights 7, 6, 5, 4, 3, 2: 6+5+2 here, 7+4+3 in the helper
    heavy = {id(s) for s in sigs if _later_revisions(s) >= 4}
    here, there = split(heavy)  # analysed already: they weigh what a check without it does
    assert abs(here - there) <= 2, (here, there)
