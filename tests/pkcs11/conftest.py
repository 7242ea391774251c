"""Fixtures for the PKCS#11 tests: a session-wide SoftHSM2 token directory and a dev PKI (see p11_helpers)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.support.softhsm import MODULE, SoftHsm, refresh


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    if not os.path.exists(MODULE) or not shutil.which("softhsm2-util") or not shutil.which("pkcs11-tool"):
        pytest.fail("SoftHSM2 (softhsm2, libsofthsm2) and OpenSC (pkcs11-tool) must be installed")
    from agent.devpki import make_dev_pki

    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pki = make_dev_pki(tmp_path_factory.mktemp("devpki"))
    try:
        refresh()  # the module may have been initialised with another SOFTHSM2_CONF earlier in this process
        yield SoftHsm(root, pki)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
        refresh()
