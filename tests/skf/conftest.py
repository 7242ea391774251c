"""Fixtures for the SKF suite: the software SKF key (built from native/softskf by `make softskf`) and a
private copy of the dev PKI's device store per test, so PIN counters and removals never leak between tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "build" / "softskf" / "libsoftskf.so"
P11 = REPO / "build" / "softskf" / "libsoftp11.so"


@pytest.fixture(scope="session")
def softskf_lib() -> str:
    """The C library, built now when `make test` has not built it yet (make only rebuilds when stale)."""
    res = subprocess.run(["make", "-s", "softskf"], cwd=REPO, capture_output=True, text=True, timeout=300)
    if res.returncode != 0 or not LIB.is_file() or not P11.is_file():
        pytest.fail(f"make softskf failed:\n{res.stdout}\n{res.stderr}")
    return str(LIB)


@pytest.fixture(scope="session")
def softp11_lib(softskf_lib: str) -> str:
    """The PKCS#11 face over the same store (built with the SKF library)."""
    return str(P11)


@pytest.fixture
def skf_home(dev_pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SOFTSKF_HOME with the dev PKI's key SealBridge-SoftSKF-1 (PIN = dev_pki.pin), copied for this test."""
    home = tmp_path / "skf"
    shutil.copytree(dev_pki.skf_home, home)
    monkeypatch.setenv("SOFTSKF_HOME", str(home))
    return home


@pytest.fixture
def form_pdf(tmp_path: Path) -> Path:
    from tests.support.pdf_maker import PageSpec, make_pdf

    path = tmp_path / "form.pdf"
    path.write_bytes(make_pdf([PageSpec(lines=[(72, 700, "甲方（盖章）：示例科技有限公司")])]))
    return path


@pytest.fixture
def form_ofd(tmp_path: Path) -> Path:
    from tests.support.ofd_maker import make_ofd, text_object

    path = tmp_path / "form.ofd"
    path.write_bytes(make_ofd([text_object("甲方（盖章）：示例科技有限公司", 20, 200)]))
    return path
