"""A zip entry whose both headers declare 400 bytes but whose deflate stream inflates to 1 GiB: refused
without ever inflating past the declared size, by the reader, the CLI (peak RSS measured), the agent and
the platform."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, load_document
from tests.support.hostile import ofd_zip_bomb, run_measured

CONTENT = "Doc_0/Pages/Page_0/Content.xml"
MIB = 1 << 20


@pytest.fixture(scope="module")
def bomb(samples: Path) -> bytes:
    return ofd_zip_bomb(samples)


def test_bomb_is_what_it_claims(bomb):
    """The input really is hostile: small on disk, 400 bytes declared, 1 GiB in the stream."""
    assert len(bomb) < 3 * MIB
    info = zipfile.ZipFile(io.BytesIO(bomb)).getinfo(CONTENT)
    assert info.file_size == 400 and info.compress_size > 500_000


def test_reader_never_inflates_past_declared_size(bomb):
    tracemalloc.start()
    try:
        pkg = OfdPackage(bomb)
        with pytest.raises(SealBridgeError) as err:
            load_document(pkg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.code in ("DOC_MALFORMED", "DOC_TOO_LARGE")
    assert peak < 32 * MIB, f"reading a 400-byte entry allocated {peak / MIB:.0f} MiB"


def test_digest_is_bounded_and_refuses_a_longer_stream(bomb):
    pkg = OfdPackage(bomb)
    # zipfile stops at the declared size and the CRC of those 400 bytes holds: the digest is of 400 bytes.
    assert len(pkg.read(CONTENT)) == 400
    assert len(pkg.digest(CONTENT)) == 32


def test_cli_verify_bomb_bounded_memory(bomb, tmp_path):
    path = tmp_path / "bomb.ofd"
    path.write_bytes(bomb)
    exe = shutil.which("sealbridge", path=str(Path(sys.executable).parent)) or "sealbridge"
    env = dict(os.environ)
    res, peak = run_measured([exe, "verify", str(path), "--json"], env=env)
    assert "Traceback" not in res.stderr, res.stderr
    assert peak > 0
    assert peak < 600 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
    out = json.loads(res.stdout)
    if res.returncode == 2:
        assert out["error"]["code"] in ("DOC_MALFORMED", "DOC_TOO_LARGE")
    else:  # a report that says what is wrong with the page
        assert res.returncode in (1, 3) and out["extra"].get("document_error"), out
