"""A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql 15 binaries), for tests and the benchmark.

As root, initdb/pg_ctl run as the `postgres` user (initdb refuses root) in a temp dir that user owns. A
watchdog process (devkit/pgwatchdog.py) stops the cluster and removes its folder if this process ends
without stop(): killed, it runs no clean-up, and the cluster would outlive it.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
import weakref
from pathlib import Path

from devkit.pgwatchdog import as_postgres

PG_BIN = Path(os.environ.get("SEALBRIDGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _close_in_child(cluster: weakref.ref[PgCluster]) -> None:
    owner = cluster()
    if owner is not None and owner._tell_watchdog is not None:
        os.close(owner._tell_watchdog)
        owner._tell_watchdog = None
        owner.watchdog = None  # not this process's child


class PgCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sealbridge-pg-", dir="/tmp"))
        self.port = _free_port()
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._tell_watchdog: int | None = None

    def start(self) -> None:
        """initdb and start the server; a failure leaves nothing (the cluster stopped, its folder removed)."""
        self._watch()  # first: a run killed while the cluster starts leaves nothing behind either
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        data = self.dir / "data"
        run = dict(check=True, capture_output=True, timeout=120)
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            **run,
        )
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        )
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    opts,
                    "-l",
                    str(self.dir / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            **run,
        )

    def _watch(self) -> None:
        read_end, write_end = os.pipe()  # not inheritable: no other child of this process holds the end
        try:
            self.watchdog = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("pgwatchdog.py")),
                    str(self.dir),
                    str(PG_BIN),
                    str(os.getpid()),
                ],
                stdin=read_end,
                start_new_session=True,  # not in this process's group: a Ctrl-C meant for the tests
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._tell_watchdog = write_end
        # A process forked from this one (a verify helper, a pool worker) must not keep the watchdog's pipe
        # open: it closes its copy at once. (The watchdog also watches this process itself, where it can.)
        os.register_at_fork(after_in_child=functools.partial(_close_in_child, weakref.ref(self)))

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        import psycopg

        name = "central_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._tell_watchdog is not None:
            try:
                os.write(self._tell_watchdog, b"done")
            finally:
                os.close(self._tell_watchdog)
                self._tell_watchdog = None
        if self.watchdog is not None:
            self.watchdog.wait(timeout=60)
