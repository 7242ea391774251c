"""Fixtures for the central platform suite: a throwaway PostgreSQL cluster and running servers per backend."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.pgcluster import PG_BIN, PgCluster
from tests.support.central import CentralHandle, create_admin_token


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    in_ci = os.environ.get("CI", "").lower() == "true"
    try:
        import psycopg  # noqa: F401

        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"no PostgreSQL binaries in {PG_BIN}")
        cluster = PgCluster()
        cluster.start()
    except Exception as exc:  # noqa: BLE001
        detail = (
            exc.stderr.decode(errors="replace") if isinstance(exc, subprocess.CalledProcessError) else exc
        )
        if in_ci:
            pytest.fail(f"PostgreSQL could not start (CI must not skip): {detail}")
        pytest.skip(f"PostgreSQL not available: {detail}")
    yield cluster
    cluster.stop()


def _db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_cluster").new_database()
    return str(tmp_path / "central.db")


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def central(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, CentralHandle]]:
    """A server shared by a test module, per backend: (url, admin_token, handle)."""
    tmp = tmp_path_factory.mktemp("central")
    db_url = _db_url(request, tmp)
    handle = CentralHandle(db_url=db_url, key_dir=tmp / "keys", workdir=tmp)
    token = create_admin_token(db_url)
    handle.start()
    yield handle.url, token, handle
    handle.stop()


@pytest.fixture(params=BACKENDS)
def own_central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, CentralHandle]]:
    """A server of this test's own (it may be stopped, restarted or tampered with)."""
    db_url = _db_url(request, tmp_path)
    handle = CentralHandle(db_url=db_url, key_dir=tmp_path / "keys", workdir=tmp_path)
    token = create_admin_token(db_url)
    handle.start()
    yield handle.url, token, handle
    handle.stop()
