"""Certificates asn1crypto parses lazily: a Name holding a UTF8String where a BIT STRING belongs loads
fine and fails when first compared. The report is still produced; the affected checks say why."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from asn1crypto import cms

from formats.certparse import read_certificate, try_read_certificate
from formats.errors import SealBridgeError
from formats.gm.oids import register_asn1crypto_oids
from tests.support.hostile import ofd_with_poisoned_pkcs7_cert, poisoned_certificate

SIGNED_VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"


@pytest.fixture(scope="module")
def sample(samples: Path) -> bytes:
    return (samples / "ofd" / "gomain-pkcs7-two-signs.ofd").read_bytes()


def _first_cert(ofd: bytes) -> bytes:
    register_asn1crypto_oids()
    with zipfile.ZipFile(io.BytesIO(ofd)) as z:
        info = cms.ContentInfo.load(z.read(SIGNED_VALUE))
    return info["content"]["certificates"][0].chosen.dump()


def test_read_certificate_refuses_the_lazy_damage(sample):
    good = _first_cert(sample)
    assert read_certificate(good).subject.human_friendly
    bad = poisoned_certificate(good)
    with pytest.raises(SealBridgeError) as err:
        read_certificate(bad)
    assert err.value.code == "CERT_INVALID" and "OctetBitString" in (err.value.detail or "")
    assert "\n" not in err.value.detail
    assert try_read_certificate(bad)[0] is None


def test_cli_verify_reports_the_unreadable_certificate(sample, tmp_path):
    path = tmp_path / "poisoned.ofd"
    path.write_bytes(ofd_with_poisoned_pkcs7_cert(sample, SIGNED_VALUE))
    exe = shutil.which("sealbridge", path=str(Path(sys.executable).parent)) or "sealbridge"
    res = subprocess.run([exe, "verify", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode in (1, 3), (res.returncode, res.stdout)
    report = json.loads(res.stdout)
    first, second = report["seals"]
    assert first["checks"]["signature"]["status"] in ("failed", "unknown")
    assert "cannot be read" in first["checks"]["signature"]["detail"]
    assert second["checks"]["signature"]["status"] == "ok"  # the other seal is still checked
