"""One database interface over SQLite (default, one file) and PostgreSQL (psycopg 3).

Service code is written as plain synchronous functions `fn(tx, ...)` that run inside one transaction on a
worker thread; `Database.run(fn, ...)` schedules them from asyncio. SQL is written once, portably, with `?`
placeholders (translated to `%s` for psycopg). Each worker thread keeps its own connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from formats.errors import SealBridgeError

T = TypeVar("T")
Row = tuple[Any, ...]


class Tx:
    """One open transaction. `execute` returns all rows (our queries return small result sets)."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        if self.dialect == "postgresql":
            return sql.replace("%", "%%").replace("?", "%s")
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        try:
            rows = cur.fetchall() if cur.description else []
        finally:
            cur.close()
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def script(self, sql: str) -> None:
        """Run several statements (migrations). No parameters."""
        for stmt in (s.strip() for s in sql.split(";")):
            if stmt:
                self._conn.execute(stmt)


class Database:
    """A connection factory plus a thread pool. `url`: a file path, `sqlite:///path`, or `postgresql://…`."""

    def __init__(self, url: str, workers: int = 4) -> None:
        self.url = url
        self.dialect, self._target = _parse_url(url)
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="central-db")

    # -- connections -------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self._target, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        else:
            try:
                import psycopg
            except ImportError:  # pragma: no cover - depends on the install
                raise SealBridgeError(
                    "BAD_REQUEST", "PostgreSQL needs psycopg: pip install 'sealbridge[postgres]'"
                ) from None
            try:
                conn = psycopg.connect(self._target, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise SealBridgeError("INTERNAL", f"cannot connect to PostgreSQL: {exc}") from None
        with self._lock:
            self._all.append(conn)
        return conn

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """A transaction on this thread's connection. SQLite writers take the write lock up front
        (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock."""
        conn = self._conn()
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            conn.execute("BEGIN")
        try:
            yield Tx(conn, self.dialect)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def run_sync(self, fn: Callable[..., T], *args: Any, write: bool = True, **kwargs: Any) -> T:
        with self.transaction(write=write) as tx:
            return fn(tx, *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, write: bool = True, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = partial(self.run_sync, fn, *args, write=write, **kwargs)
        return await loop.run_in_executor(self._pool, call)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run any blocking function on the DB pool (used for work that opens its own transactions)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            self._all.clear()
        self._local = threading.local()


def _parse_url(url: str) -> tuple[str, str]:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql", url
    if url.startswith("sqlite:///"):
        path = unquote(urlparse(url).path)
    elif "://" in url:
        raise SealBridgeError("BAD_REQUEST", f"unsupported database URL {url.split('://')[0]}://")
    else:
        path = url
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return "sqlite", path
