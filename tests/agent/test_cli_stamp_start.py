"""What `sealbridge stamp` does to start fast, checked in real processes.

- The stamper is imported without aiohttp (agent/cli/pyhanko_import.py): pyHanko's HTTP clients stay
  usable and are the real ones when something asks for them later; an import the stand-ins would break is
  done again for real; a process that already loaded pyHanko imports as it is.
- The copy of the PDF starts before the token is opened, with SM3; an ECDSA or RSA key adds SHA-256.
- The token unlocks while another thread imports the stamper and prepares the seal picture: a wrong PIN
  still gives PIN_INCORRECT with no output and no temp file, and a seal whose picture cannot be drawn gives
  the same SEAL_INVALID as stamping it directly, also with no output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from formats.gm.keys import load_certificates, load_private_key
from formats.keysigner import KeySigner
from formats.ses import SealKind
from formats.ses.build import build_seal_v4
from stamping.options import StampOptions
from stamping.pdf import stamp
from stamping.placement import At
from tests.support.agent_process import REPO, SEALBRIDGE
from tests.support.fresh_python import run_python, run_python_ok


def _stamp_cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("SEALBRIDGE_DEBUG", None)
    return subprocess.run(
        [*SEALBRIDGE, "stamp", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_stamper_loads_without_aiohttp_and_pyhankos_clients_are_real_later() -> None:
    run_python_ok(
        "import sys\n"
        "from agent.cli.pyhanko_import import Deferred, import_lean\n"
        "import_lean('stamping.pdf.stamp')\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp loaded'\n"
        "import pyhanko.sign.timestamps as ts\n"
        "assert not [k for k, v in vars(ts).items() if isinstance(v, Deferred)]\n"
        "assert 'pyhanko_certvalidator.fetchers.aiohttp_fetchers' not in sys.modules  # no stand-in left\n"
        "assert 'pyhanko.sign.timestamps.aiohttp_client' not in sys.modules\n"
        "from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper\n"
        "import pyhanko.sign.timestamps.aiohttp_client as client\n"
        "assert HTTPTimeStamper is client.HTTPTimeStamper and issubclass(HTTPTimeStamper, TimeStamper)\n"
        "assert isinstance(HTTPTimeStamper('http://127.0.0.1:9/tsa'), TimeStamper)\n"
        "from pyhanko.sign.validation import ades\n"
        "from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend\n"
        "assert isinstance(ades.AIOHttpFetcherBackend(), AIOHttpFetcherBackend)\n"
        "assert 'aiohttp' in sys.modules\n"
        "print('ok')\n"
    )


def test_an_import_the_stand_ins_break_is_done_again_for_real() -> None:
    # The stand-in for the fetchers is no package: importing one of its submodules fails with it in place.
    run_python_ok(
        "from agent.cli.pyhanko_import import import_lean\n"
        "m = import_lean('pyhanko_certvalidator.fetchers.aiohttp_fetchers.util')\n"
        "assert m.__name__ == 'pyhanko_certvalidator.fetchers.aiohttp_fetchers.util' and hasattr(m, 'LazySession')\n"
        "print('ok')\n"
    )


def test_a_process_with_pyhanko_loaded_imports_the_stamper_as_it_is() -> None:
    run_python_ok(
        "import sys\n"
        "import pyhanko.sign\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.stamp')\n"
        "import pyhanko.sign.timestamps as ts\n"
        "assert '__getattr__' not in vars(ts) and 'aiohttp' in sys.modules\n"
        "print('ok')\n"
    )


def _stamp_in_fresh_python(documents: list[str], dev_pki, report: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """`sealbridge stamp` (SM2 soft token, one seal on page 1) through main() in a fresh interpreter, then
    `report` (Python, with gc, json and sys imported and the exit code in `rc`)."""
    args = [*documents, "--token", f"soft:{dev_pki.tokens['sm2']}"]
    args += ["--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=60,y=60", "--json"]
    return run_python(
        f"import gc, json, sys\nfrom sealbridge.cli import main\nrc = main(['stamp', *{args!r}])\n{report}"
    )


def test_a_cli_stamp_loads_no_aiohttp_and_its_output_verifies(tmp_path: Path, dev_pki, sample_pdf) -> None:
    doc, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    doc.write_bytes(sample_pdf)
    res = _stamp_in_fresh_python(
        [str(doc), "-o", str(out)],
        dev_pki,
        "print('aiohttp loaded' if 'aiohttp' in sys.modules else 'no aiohttp', file=sys.stderr)\nsys.exit(rc)\n",
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "no aiohttp", res.stderr
    env = dict(os.environ, SEALBRIDGE_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    check = subprocess.run(
        [*SEALBRIDGE, "verify", str(out), "--trust", str(dev_pki.roots["sm2"]), "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0 and json.loads(check.stdout)["verdict"] == "valid", check.stdout


def test_a_wrong_pin_gives_pin_incorrect_and_leaves_no_file(tmp_path: Path, dev_pki, sample_pdf) -> None:
    token = tmp_path / "sm2.soft"
    shutil.copy(dev_pki.tokens["sm2"], token)
    doc, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    doc.write_bytes(sample_pdf)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("000000\n")
    args = [str(doc), "-o", str(out), "--token", f"soft:{token}", "--pin-file", str(wrong)]
    res = _stamp_cli([*args, "--place", "page=1,x=60,y=60", "--json"], tmp_path / "home")
    assert res.returncode == 2, (res.stdout, res.stderr)
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "PIN_INCORRECT" and err["retries_left"] == 5, err
    assert "000000" not in res.stdout + res.stderr
    assert not out.exists() and _leftovers(tmp_path) == []


def _seal_with_unreadable_picture(dev_pki) -> bytes:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    return build_seal_v4(
        esid="SB-BROKEN-PICTURE",
        name="示例科技有限公司合同专用章",
        seal_type=SealKind.CONTRACT.code,
        vid="SealBridgeTest",
        certs=[load_certificates(dev_pki.signer_certs["sm2"].read_bytes())[0].dump()],
        picture=("png", b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 8, 40, 40),
        valid_start=now - timedelta(days=1),
        valid_end=now + timedelta(days=30),
        maker_key=load_private_key(dev_pki.maker_key.read_bytes()),
        maker_cert_der=load_certificates(dev_pki.maker_cert.read_bytes())[0].dump(),
    )


def test_a_seal_picture_that_cannot_be_drawn_fails_as_stamping_it_directly_does(
    tmp_path: Path, dev_pki, sample_pdf
) -> None:
    seal = tmp_path / "broken.esl"
    seal.write_bytes(_seal_with_unreadable_picture(dev_pki))
    cert = load_certificates(dev_pki.signer_certs["sm2"].read_bytes())[0]
    signer = KeySigner(load_private_key(dev_pki.signer_keys["sm2"].read_bytes()), cert, [])
    with pytest.raises(SealBridgeError) as direct, open(os.devnull, "wb") as sink:
        stamp(sample_pdf, sink, signer, seal.read_bytes(), [At(1, 60, 60)], StampOptions())

    doc, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    doc.write_bytes(sample_pdf)
    args = [str(doc), "-o", str(out), "--token", f"soft:{dev_pki.tokens['sm2']}", "--seal", str(seal)]
    args += ["--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=60,y=60", "--json"]
    res = _stamp_cli(args, tmp_path / "home")
    assert res.returncode == 2 and res.stderr == "", (res.stdout, res.stderr)
    assert json.loads(res.stdout)["error"]["code"] == direct.value.code == "SEAL_INVALID"
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_a_key_that_signs_with_sha256_is_stamped_validly_from_the_early_copy(
    tmp_path: Path, dev_pki, sample_pdf, kind: str
) -> None:
    # The copy starts with SM3 before the token is opened; the key's SHA-256 is added once it is chosen.
    doc, out = tmp_path / "in.pdf", tmp_path / "out.pdf"
    doc.write_bytes(sample_pdf)
    args = [str(doc), "-o", str(out), "--token", f"soft:{dev_pki.tokens[kind]}"]
    args += ["--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=60,y=60", "--json"]
    res = _stamp_cli(args, tmp_path / "home")
    assert res.returncode == 0, (res.stdout, res.stderr)
    env = dict(os.environ, SEALBRIDGE_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    check = subprocess.run(
        [*SEALBRIDGE, "verify", str(out), "--trust", str(dev_pki.roots[kind]), "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(check.stdout)
    assert check.returncode == 0 and report["verdict"] == "valid", check.stdout


@pytest.mark.parametrize("how", ["one output", "out-dir"])
def test_a_cli_stamp_freezes_what_its_start_up_loaded_and_keeps_collecting(
    tmp_path: Path, dev_pki, sample_pdf, how: str
) -> None:
    """The imports and the login run without the cyclic collector; what they made is frozen and the
    collector runs again for the stamp (agent/cli/collector.py), on both of the command's paths."""
    doc = tmp_path / "in.pdf"
    doc.write_bytes(sample_pdf)
    (tmp_path / "outs").mkdir()
    target = (
        ["-o", str(tmp_path / "out.pdf")] if how == "one output" else ["--out-dir", str(tmp_path / "outs")]
    )
    res = _stamp_in_fresh_python(
        [str(doc), *target],
        dev_pki,
        "print(json.dumps([rc, gc.isenabled(), gc.get_freeze_count()]), file=sys.stderr)\n",
    )
    rc, enabled, frozen = json.loads(res.stderr.strip().splitlines()[-1])
    assert rc == 0, res.stdout
    assert enabled is True
    assert frozen > 20_000  # the stamper's modules and pyHanko's
    out = tmp_path / ("out.pdf" if how == "one output" else "outs/in.pdf")
    assert out.read_bytes().startswith(sample_pdf)  # an incremental update of the input
