"""A stamped PDF plus an incremental update whose trailer nests an array 100,000 deep: DOC_MALFORMED (exit
2 with a JSON error), never a RecursionError traceback or exit 1 ("invalid")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from stamping.documents import document_format
from tests.support.hostile import deep_trailer, stamped_pdf


@pytest.fixture(scope="module")
def deep_pdf(dev_pki, tmp_path_factory) -> bytes:
    return deep_trailer(stamped_pdf(dev_pki, tmp_path_factory.mktemp("deep")))


def test_stamped_base_is_valid(dev_pki, tmp_path):
    """Without the update the same PDF verifies: the nesting alone is what the verifier must survive."""
    report = document_format(base := stamped_pdf(dev_pki, tmp_path)).verify(base)
    assert len(report.seals) == 1


def test_verify_deep_trailer_is_malformed(deep_pdf):
    with pytest.raises(SealBridgeError) as err:
        document_format(deep_pdf).verify(deep_pdf)
    assert err.value.code == "DOC_MALFORMED"
    assert "deep" in (err.value.detail or "")


def test_cli_verify_deep_trailer_exits_2_with_json(deep_pdf, tmp_path):
    path = tmp_path / "deep.pdf"
    path.write_bytes(deep_pdf)
    exe = shutil.which("sealbridge", path=str(Path(sys.executable).parent)) or "sealbridge"
    res = subprocess.run([exe, "verify", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2, (res.returncode, res.stdout)
    assert json.loads(res.stdout)["error"]["code"] == "DOC_MALFORMED"
