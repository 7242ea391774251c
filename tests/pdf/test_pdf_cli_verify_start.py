"""What `sealbridge verify` of a PDF does to start fast, checked in real processes.

The verifier is imported without pyHanko's signing side and HTTP clients (agent/cli/pyhanko_import.py):
pyhanko.sign and pyhanko.sign.signers wait with their initialisers until a name of theirs is asked for,
and are then exactly the packages pyHanko defines; an import that fails with that in place is done again
as Python does it. A forked helper process checks some of the seals (stamping/pdf/forkshare.py). The
CLI's verdicts are those of the verifier imported the ordinary way in one process, tampering included.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest

from agent.cli.verify_early import SHARED_FROM
from stamping.pdf import verify
from stamping.placement import At
from tests.support.fresh_python import run_python, run_python_ok
from tests.support.pdf_flows import root_files, stamp_pdf, trusting
from tests.support.pdf_maker import contract_pdf

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
#: What a verifying process never needs: the signer, the time-stamp client, aiohttp, the seal builder.
_NOT_FOR_VERIFYING = (
    "aiohttp",
    "pyhanko.sign.signers.pdf_signer",
    "pyhanko.sign.signers.functions",
    "pyhanko.sign.timestamps.aiohttp_client",
    "pikepdf",  # a plain document's signatures are listed from pyHanko's parse (stamping.pdf.sigfields)
    "cryptography.x509",  # loaded by the PKCS#12 loader, deferred
    "formats.ses.build",  # formats.ses gives readers only; builders import it themselves
    "uuid",  # pyHanko names uuid4 and get_localzone for writing only: deferred, with platform and zoneinfo
    "platform",
    "tzlocal",
    "zoneinfo",
    "zipfile",  # only an OFD's sniff needs it (stamping.documents)
    "ssl",  # asyncio loads it when it first needs it: TLS, a socket call (agent/cli/lean_asyncio.py)
)
#: What the program loads before it forks a large PDF's hashing child (agent.cli.verify_early) must not
#: include these (that time is spent on one core), nor must the child (it hashes with formats.dochash).
_NOT_BEFORE_THE_EARLY_FORK = (
    "argparse",
    "dataclasses",
    "formats.errors",
    "pyhanko",
    "asyncio",
    "json",  # the child reads its requests with it, the CLI writes them: both after the fork
    "pickle",  # the child's answers: after it has hashed
    "threading",
)


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a fresh process has loaded after running `code` (which may import json itself)."""
    res = run_python(f"import sys\n{code}print(sorted(m for m in {names!r} if m in sys.modules))\n")
    assert res.returncode == 0, res.stderr
    return ast.literal_eval(res.stdout.strip().splitlines()[-1])


def test_what_loads_before_the_early_fork_and_in_its_child_is_small(tmp_path: Path) -> None:
    # The program's start as sealbridge.cli.main() runs it, to the early fork of a large PDF's hashing child
    # (mapped, and read by the child: both kinds), and what the child hashes with.
    pdf = tmp_path / "large.pdf"
    pdf.write_bytes(_with_filler(contract_pdf(1), SHARED_FROM))
    start = (
        "import os\n"
        "import sealbridge.cli, agent.cli.collector, sealbridge.parent_death\n"  # as main() has them then
        "from agent.cli import verify_early\n"
        "{hold}"
        f"verify_early.start(['verify', {str(pdf)!r}])\n"
        "assert verify_early._started is not None and verify_early._started[2].read_by == {read_by!r}\n"
    )
    for read_by, hold in (("mapped", ""), ("by the child", f"writer = os.open({str(pdf)!r}, os.O_WRONLY)\n")):
        assert _loaded_after(start.format(hold=hold, read_by=read_by), _NOT_BEFORE_THE_EARLY_FORK) == []
    hashing = "from formats.dochash import new_hash\nnew_hash('sm3'), new_hash('sha256')\n"
    assert _loaded_after(hashing, _NOT_BEFORE_THE_EARLY_FORK) == []


def _with_filler(pdf: bytes, size: int) -> bytes:
    """The PDF with an incompressible stream of `size` bytes hung on its catalogue (a scan, say)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        doc.Root.SealBridgeFiller = doc.make_indirect(pikepdf.Stream(doc, os.urandom(size)))
        out = io.BytesIO()
        doc.save(out)
    return out.getvalue()


@pytest.fixture(scope="module", params=["small", "large"])
def sealed(request, sm2_party, ecdsa_party, rsa_party) -> tuple[bytes, list]:  # type: ignore[no-untyped-def]
    """Three seals; "large" is past the size from which the CLI hashes the file while the verifier loads."""
    pdf = contract_pdf(2)
    if request.param == "large":
        pdf = _with_filler(pdf, 5 << 20)
    for party, place in (
        (sm2_party, At(1, 40, 40)),
        (ecdsa_party, At(1, 90, 40)),
        (rsa_party, At(2, 40, 90)),
    ):
        pdf = stamp_pdf(pdf, party, [place])
    return pdf, [sm2_party, ecdsa_party, rsa_party]


def test_the_verifier_loads_without_pyhankos_signer_and_http_clients() -> None:
    code = "from agent.cli.pyhanko_import import import_lean\nimport_lean('stamping.pdf.verify')\n"
    assert _loaded_after(code, _NOT_FOR_VERIFYING) == []


def test_the_deferred_packages_are_pyhankos_own_on_first_use() -> None:
    run_python_ok(
        "import types\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "import pyhanko.sign as sign\n"
        "assert not hasattr(sign, 'no_such_name')  # a missing name stays missing (after running __init__)\n"
        "assert type(sign) is types.ModuleType, type(sign)\n"
        "assert set(sign.__all__) <= set(vars(sign))\n"
        "from pyhanko.sign import PdfSigner, signers\n"
        "from pyhanko.sign.signers import SimpleSigner, pdf_signer, pdf_cms\n"
        "assert PdfSigner is pdf_signer.PdfSigner is signers.PdfSigner and SimpleSigner is pdf_cms.SimpleSigner\n"
        "assert type(signers) is types.ModuleType and signers.sign_pdf is signers.functions.sign_pdf\n"
        "from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper\n"
        "assert issubclass(HTTPTimeStamper, TimeStamper)\n"
        "namespace = {}\n"
        "exec('from pyhanko.sign.signers import *', namespace)\n"
        "assert namespace['PdfSignatureMetadata'] is signers.PdfSignatureMetadata\n"
        "print('ok')\n"
    )


def test_the_deferred_uuid4_and_local_zone_are_the_real_ones_when_used() -> None:
    """What pyHanko's modules bound while they were deferred calls the real functions, and a later import
    gets the real module; a module already loaded before is left as it was."""
    run_python_ok(
        "import sys, uuid as before\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "assert sys.modules['uuid'] is before  # loaded already: no stand-in took its place\n"
        "from pyhanko.pdf_utils import content\n"
        "assert content.uuid is before\n"
        "assert 'tzlocal' not in sys.modules\n"
        "from pyhanko.pdf_utils.metadata import info\n"
        "zone = info.tzlocal.get_localzone()\n"
        "import tzlocal\n"
        "assert tzlocal.__file__ and zone == tzlocal.get_localzone() and info.tzlocal is not tzlocal\n"
        "print('ok')\n"
    )
    run_python_ok(
        "import sys\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "assert 'uuid' not in sys.modules\n"
        "from pyhanko.pdf_utils import content\n"
        "made = content.uuid.uuid4()\n"
        "import uuid\n"
        "assert uuid.__file__ and isinstance(made, uuid.UUID) and made.version == 4\n"
        "assert sys.modules['uuid'] is uuid and content.uuid is not uuid  # the stand-in stays with its importer\n"
        "print('ok')\n"
    )


def test_a_deferred_name_used_while_another_thread_loads_pyhanko_waits_for_the_real_one() -> None:
    """A thread that meets a stand-in while import_lean runs on another (the CLI stamp's login beside its
    loader) waits for the real function instead of recursing; on the loading thread itself the use is an
    ImportError, which import_lean answers with the plain import."""
    run_python_ok(
        "import sys, threading\n"
        "from agent.cli import pyhanko_import as lean\n"
        "assert 'uuid' not in sys.modules\n"
        "stand_in = lean._stand_in('uuid', ('uuid4',))\n"
        "held, release = threading.Event(), threading.Event()\n"
        "def loading():\n"
        "    with lean._LOCK:\n"
        "        sys.modules['uuid'] = stand_in\n"
        "        held.set()\n"
        "        release.wait()\n"
        "        del sys.modules['uuid']\n"
        "loader = threading.Thread(target=loading)\n"
        "loader.start()\n"
        "held.wait()\n"
        "got = []\n"
        "user = threading.Thread(target=lambda: got.append(stand_in.uuid4()))\n"
        "user.start()\n"
        "user.join(0.5)\n"
        "assert user.is_alive() and not got  # waiting for the loader, not failed\n"
        "release.set()\n"
        "user.join()\n"
        "loader.join()\n"
        "import uuid\n"
        "assert len(got) == 1 and isinstance(got[0], uuid.UUID)\n"
        "del sys.modules['uuid']\n"
        "with lean._LOCK:\n"
        "    sys.modules['uuid'] = stand_in\n"
        "    try:\n"
        "        stand_in.uuid4()\n"
        "        raise AssertionError('used on the loading thread')\n"
        "    except ImportError:\n"
        "        pass\n"
        "    finally:\n"
        "        del sys.modules['uuid']\n"
        "print('ok')\n"
    )


def test_the_deferred_pkcs12_loader_opens_a_key_file(tmp_path: Path) -> None:
    """pyHanko's public-key decryption still loads a PKCS#12 file: the stand-in's loader is the real one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Decrypter")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(now).not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    pfx = tmp_path / "key.p12"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"k", key, cert, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    run_python_ok(
        "import sys\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "assert 'cryptography.x509' not in sys.modules\n"
        "from pyhanko.pdf_utils.crypt.pubkey import SimpleEnvelopeKeyDecrypter\n"
        "decrypter = SimpleEnvelopeKeyDecrypter.load_pkcs12(sys.argv[1], b'pw')\n"
        "assert decrypter.cert.subject.native['common_name'] == 'Decrypter', decrypter.cert.subject.native\n"
        "from cryptography.hazmat.primitives.serialization import pkcs12\n"
        "assert pkcs12.__file__.endswith('pkcs12.py'), pkcs12  # the real module, the stand-in gone\n"
        "print('ok')\n",
        str(pfx),
    )


def test_a_submodule_named_on_the_deferred_package_is_imported_without_its_initialiser() -> None:
    run_python_ok(
        "import sys, types\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "import pyhanko.sign\n"
        "general = pyhanko.sign.general\n"
        "assert general is sys.modules['pyhanko.sign.general']\n"
        "assert type(sys.modules['pyhanko.sign']) is not types.ModuleType  # still waiting\n"
        "print('ok')\n"
    )


def test_threads_asking_at_once_all_get_the_initialised_package() -> None:
    run_python_ok(
        "import threading\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "barrier, got = threading.Barrier(4), []\n"
        "def ask():\n"
        "    barrier.wait()\n"
        "    from pyhanko.sign import PdfSigner\n"
        "    got.append(PdfSigner)\n"
        "threads = [threading.Thread(target=ask) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "from pyhanko.sign.signers.pdf_signer import PdfSigner\n"
        "assert got == [PdfSigner] * 4, got\n"
        "print('ok')\n"
    )


def test_an_import_that_fails_while_pyhanko_waits_is_done_again_for_real(tmp_path: Path) -> None:
    # A module that insists on an initialised pyhanko.sign: the first try fails, the second succeeds.
    (tmp_path / "needs_whole_sign.py").write_text(
        "import sys, types\n"
        "if type(sys.modules.get('pyhanko.sign')) is not types.ModuleType:\n"
        "    raise ImportError('pyhanko.sign is not initialised')\n"
        "from pyhanko.sign import PdfSigner\n"
    )
    run_python_ok(
        "import sys, types\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "m = import_lean('needs_whole_sign')\n"
        "assert m.PdfSigner.__name__ == 'PdfSigner'\n"
        "assert type(sys.modules['pyhanko.sign.signers']) is types.ModuleType\n"
        "print('ok')\n",
        path=tmp_path,
    )


def test_stamping_after_the_lean_verifier_import_in_one_process_still_works() -> None:
    run_python_ok(
        "import sys\n"
        "from agent.cli.pyhanko_import import import_lean\n"
        "import_lean('stamping.pdf.verify')\n"
        "import_lean('stamping.pdf.stamp')\n"
        "from devkit.sealed import seal_holder, sealed\n"
        "from stamping.options import VerifyOptions\n"
        "from stamping.pdf import verify\n"
        "holder = seal_holder()\n"
        "pdf = sealed('pdf', 1, holder)\n"
        "report = verify(pdf, VerifyOptions(trust_anchors=[holder.root]))\n"
        "assert [s.verdict for s in report.seals] == ['valid'], report.to_dict()\n"
        "print('ok')\n"
    )


def _cli_verify(pdf: Path, roots: list[str]) -> tuple[int, dict, list[str], str]:
    """(exit code, JSON report, the modules of _NOT_FOR_VERIFYING it loaded, how forkshare's last run went)
    of a CLI run in a fresh process."""
    args = ["verify", str(pdf), "--json"] + [a for r in roots for a in ("--trust", r)]
    res = run_python(
        "import json, sys\n"
        "from sealbridge.cli import main\n"
        f"rc = main({args!r})\n"
        f"loaded = sorted(m for m in {_NOT_FOR_VERIFYING!r} if m in sys.modules)\n"
        "from stamping.pdf import forkshare\n"
        "print(json.dumps([loaded, forkshare.last_run]), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    assert res.stderr.strip().startswith("["), res.stderr
    loaded, helper = json.loads(res.stderr.strip().splitlines()[-1])
    return res.returncode, json.loads(res.stdout), loaded, helper


def _verdicts(report: dict) -> list[tuple[str, dict[str, tuple[str, list[str]]]]]:
    """Each seal's verdict, and each check's status with its reasons' codes."""
    return [
        (
            s["verdict"],
            {name: (c["status"], [r["code"] for r in c["reasons"]]) for name, c in s["checks"].items()},
        )
        for s in report["seals"]
    ]


def test_the_cli_reports_what_the_verifier_reports_and_loads_no_signer(tmp_path: Path, sealed) -> None:  # type: ignore[no-untyped-def]
    pdf, parties = sealed
    roots = root_files(tmp_path, *parties)
    ranges = sorted(
        (tuple(int(v) for v in m.groups()) for m in _BYTE_RANGE.finditer(pdf)), key=lambda br: br[2] + br[3]
    )
    first, last = ranges[0], ranges[-1]
    # A byte in the first revision (every seal covers it), and one after the last seal's /Contents (only
    # the last seal covers it): the integrity check each seal should fail.
    cases = {"intact": (None, [True] * 3), "first": (first[1] // 2, [False] * 3)}
    cases["last"] = (last[2] + last[3] // 2, [True, True, False])
    for name, (pos, intact) in cases.items():
        data = bytearray(pdf)
        if pos is not None:
            data[pos] ^= 0x01
        doc = tmp_path / "doc.pdf"
        doc.write_bytes(data)
        rc, report, loaded, helper = _cli_verify(doc, roots)
        assert helper == "helped", (name, helper)  # a helper process checked some of the seals
        expected = verify(bytes(data), trusting(*parties)).to_dict()
        assert loaded == [], (name, loaded)
        assert _verdicts(report) == _verdicts(expected), name
        assert report["document"] == {**expected["document"], "name": "doc.pdf"}, name
        assert [s["checks"]["integrity"]["status"] == "ok" for s in report["seals"]] == intact, name
        assert rc == (0 if pos is None else 1), (name, rc)
