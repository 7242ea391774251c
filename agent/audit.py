"""The agent's audit log (seed Art. 24): an append-only, hash-chained SQLite (WAL) table.

Every stamp, verification, approval, refusal and PIN failure is one record: time, event, page origin (top
and frame), document SM3 before/after, seal id, certificate serial, result code and a small detail object.
Record n carries hash_n = SM3(hash_{n-1} ‖ canonical JSON of record n without its hash), hash_0 = 32 zero
bytes, so changing, inserting or deleting a record breaks the chain at that record. `verify()` names the
first bad record. Never store document bytes or a PIN here.

Deleting the newest records leaves a valid shorter chain, so each append also writes the head (seq and
hash of the newest record) to `<db>.head` (0600, atomic); `verify()` refuses a log shorter than its head or
whose record at the head's seq has another hash. The head may lag by one record after a crash (it is
written after the commit), never lead. It stops truncation by mistake or by a tool that does not know
about it; someone who rewrites both files can still cut the tail — reporting the head to the central
platform with usage records would close that.

Appends take SQLite's write lock first (BEGIN IMMEDIATE), so two processes writing the same file still
form one chain; synchronous=FULL makes a committed record survive a killed process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError
from formats.hashchain import GENESIS_HEX, ChainEntry, ChainVerdict, link, walk

EVENTS = ("stamp", "verify", "approval", "refusal", "pin_failure", "change_pin", "preview", "batch")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    origin_top TEXT,
    origin_frame TEXT,
    doc_sm3_before TEXT,
    doc_sm3_after TEXT,
    seal_id TEXT,
    cert_serial TEXT,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
_COLUMNS = (
    "seq",
    "time",
    "event",
    "origin_top",
    "origin_frame",
    "doc_sm3_before",
    "doc_sm3_after",
    "seal_id",
    "cert_serial",
    "result",
    "detail",
    "prev_hash",
    "hash",
)


@dataclass
class AuditRecord:
    seq: int
    time: str
    event: str
    origin_top: str | None
    origin_frame: str | None
    doc_sm3_before: str | None
    doc_sm3_after: str | None
    seal_id: str | None
    cert_serial: str | None
    result: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field but `hash`, sorted keys, no whitespace, UTF-8."""
        body = asdict(self)
        body.pop("hash")
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def compute_hash(self) -> str:
        return link(self.prev_hash, self.canonical())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _companions(db_path: Path) -> list[Path]:
    """SQLite's WAL and shared-memory files next to the database (they hold recent records too)."""
    return [db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-shm")]


def head_path(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".head")


def _read_head(path: Path) -> tuple[int, str] | None | str:
    """(seq, hash) of the anchor file, None when there is none, or a string saying why it is unusable."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"head anchor unreadable: {exc.strerror}"
    try:
        doc = json.loads(raw)
        seq, digest = int(doc["seq"]), str(doc["hash"])
    except (ValueError, KeyError, TypeError):
        return "head anchor damaged"
    return seq, digest


def _row_to_record(row: sqlite3.Row | tuple) -> AuditRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    try:
        values["detail"] = json.loads(values["detail"])
    except (TypeError, ValueError):
        values["detail"] = {"_unparsable": str(values["detail"])}
    return AuditRecord(**values)


class AuditLog:
    """Thread-safe; the agent calls it from worker threads (asyncio.to_thread)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.head = head_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        # Created private before SQLite opens it: SQLite gives the -wal and -shm files the database
        # file's mode, so a database created 0644 (then chmod-ed) leaves 0644 companions behind.
        with contextlib.suppress(OSError):
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        # A damaged byte must show up as a hash mismatch on its record, not as a decode crash.
        self._db.text_factory = lambda b: b.decode("utf-8", "replace")
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SealBridgeError("AUDIT_BROKEN", f"{self.path}: {exc}") from None
        for private in (self.path, *_companions(self.path)):
            with contextlib.suppress(OSError):
                private.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(
        self,
        event: str,
        result: str,
        *,
        origin_top: str | None = None,
        origin_frame: str | None = None,
        doc_sm3_before: str | None = None,
        doc_sm3_after: str | None = None,
        seal_id: str | None = None,
        cert_serial: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HEX)
                rec = AuditRecord(
                    seq=seq,
                    time=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                    event=event,
                    origin_top=origin_top,
                    origin_frame=origin_frame,
                    doc_sm3_before=doc_sm3_before,
                    doc_sm3_after=doc_sm3_after,
                    seal_id=seal_id,
                    cert_serial=cert_serial,
                    result=result,
                    detail=detail or {},
                    prev_hash=prev,
                    hash="",
                )
                rec.hash = rec.compute_hash()
                row = rec.to_dict()
                row["detail"] = json.dumps(rec.detail, sort_keys=True, ensure_ascii=False)
                db.execute(
                    f"INSERT INTO audit ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})",
                    [row[c] for c in _COLUMNS],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._write_head(rec)
        return rec

    def _write_head(self, rec: AuditRecord) -> None:
        from stamping.fileout import atomic_write

        body = json.dumps({"seq": rec.seq, "hash": rec.hash}).encode()
        try:
            atomic_write(self.head, body, 0o600, "AUDIT_BROKEN")
        except SealBridgeError:
            # The record is committed; a head that lags is detected as such only if records are later
            # deleted. Do not fail the audited operation over the anchor.
            pass

    def records(self, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        sql = f"SELECT {','.join(_COLUMNS)} FROM audit WHERE seq > ? ORDER BY seq"
        args: list[Any] = [after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_row_to_record(r) for r in rows]

    def recent(self, limit: int = 50) -> list[AuditRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {','.join(_COLUMNS)} FROM audit ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_row_to_record(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    def verify(self) -> ChainVerdict:
        """Walk the chain from the first record (formats.hashchain); then compare the head anchor."""
        try:
            with self._lock:
                cursor = self._db.execute(f"SELECT {','.join(_COLUMNS)} FROM audit ORDER BY seq")
                rows = cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            return ChainVerdict(False, 0, None, f"database unreadable: {exc}")
        records = (_row_to_record(row) for row in rows)
        verdict = walk(ChainEntry(r.seq, r.prev_hash, r.hash, r.canonical()) for r in records)
        return self._check_head(verdict, rows) if verdict.ok else verdict

    def _check_head(self, check: ChainVerdict, rows: list[Any]) -> ChainVerdict:
        head = _read_head(self.head)
        if head is None:
            if check.count:
                check.extra["warning"] = (
                    "no head anchor file: deletion of the newest records is not detectable"
                )
            return check
        if isinstance(head, str):
            return ChainVerdict(False, check.count, check.count + 1, head, check.head_hash)
        seq, digest = head
        if seq > check.count:
            return ChainVerdict(
                False,
                check.count,
                check.count + 1,
                f"records {check.count + 1}..{seq} were deleted (the head anchor names record {seq})",
                check.head_hash,
            )
        if seq >= 1 and _row_to_record(rows[seq - 1]).hash != digest:
            return ChainVerdict(
                False, check.count, seq, f"record {seq} differs from the head anchor", check.head_hash
            )
        return check


def verify_file(path: str | Path) -> ChainVerdict:
    if not Path(path).is_file():
        raise SealBridgeError("NOT_FOUND", f"no audit log at {path}")
    log = AuditLog(path)
    try:
        return log.verify()
    finally:
        log.close()
