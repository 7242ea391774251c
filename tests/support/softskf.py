"""Helpers of the SKF suites (tests/skf): the CLI in a subprocess, and SM2 checks of stamped outputs by the pure-Python
gmssl backend (not the OpenSSL that signed)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from formats.gm import cert_public_key
from formats.ses import parse_signature
from tests.support.agent_process import SEALBRIDGE

REPO = Path(__file__).resolve().parents[2]


def sealbridge(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [*SEALBRIDGE, *args]
    env = dict(os.environ, PYTHONPATH=str(REPO), SOFTSKF_HOME=str(home))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=REPO)


def gmssl_verifies(cert: bytes, data: bytes, signature: bytes) -> bool:
    return cert_public_key(cert).verify(data, signature, backend="gmssl")


def pdf_signature_checks(path: Path) -> bool:
    with path.open("rb") as f:
        [embedded] = PdfFileReader(f).embedded_signatures
        info = embedded.signer_info
        signed_attrs = info["signed_attrs"].untag().dump()
        return gmssl_verifies(embedded.signer_cert.dump(), signed_attrs, info["signature"].native)


def ofd_signature_checks(path: Path) -> bool:
    with zipfile.ZipFile(path) as z:
        [name] = [n for n in z.namelist() if n.endswith("SignedValue.dat")]
        sig = parse_signature(z.read(name))
    return gmssl_verifies(sig.signer_cert, sig.tbs_der, sig.signature)
