"""Schema migrations, the same portable SQL for SQLite and PostgreSQL.

The only dialect difference is the binary column type ({BLOB}). Times are TEXT in one fixed-width UTC form
(central.timeutil.iso), so string order is time order in both databases. A migration, once released, is never
edited: add a new one.
"""

from __future__ import annotations

from central.db import Database, Tx
from central.timeutil import iso, utcnow
from formats.hashchain import GENESIS_HEX

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        f"""
        CREATE TABLE companies (
            id TEXT PRIMARY KEY,
            uscc TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE imprints (
            id TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            name TEXT NOT NULL,
            code TEXT,
            picture_type TEXT NOT NULL,
            picture {{BLOB}} NOT NULL,
            width_mm INTEGER NOT NULL,
            height_mm INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE seals (
            esid TEXT PRIMARY KEY,
            company_id TEXT NOT NULL REFERENCES companies(id),
            imprint_id TEXT NOT NULL REFERENCES imprints(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            holder TEXT NOT NULL,
            valid_start TEXT NOT NULL,
            valid_end TEXT NOT NULL,
            status TEXT NOT NULL,
            status_since TEXT NOT NULL,
            revision INTEGER NOT NULL,
            seal_der {{BLOB}} NOT NULL,
            replaces TEXT,
            replaced_by TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE seal_revisions (
            esid TEXT NOT NULL REFERENCES seals(esid),
            revision INTEGER NOT NULL,
            seal_der {{BLOB}} NOT NULL,
            sm3 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (esid, revision)
        );
        CREATE TABLE seal_certs (
            esid TEXT NOT NULL REFERENCES seals(esid),
            sha256 TEXT NOT NULL,
            cert_der {{BLOB}} NOT NULL,
            subject TEXT NOT NULL,
            not_after TEXT NOT NULL,
            PRIMARY KEY (esid, sha256)
        );
        CREATE INDEX seal_certs_by_cert ON seal_certs (sha256);
        CREATE TABLE seal_events (
            esid TEXT NOT NULL REFERENCES seals(esid),
            seq BIGINT NOT NULL,
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            PRIMARY KEY (esid, seq)
        );
        CREATE TABLE authorizations (
            id TEXT PRIMARY KEY,
            esid TEXT NOT NULL REFERENCES seals(esid),
            cert_sha256 TEXT NOT NULL,
            cert_der {{BLOB}} NOT NULL,
            grantee TEXT NOT NULL,
            not_before TEXT NOT NULL,
            not_after TEXT NOT NULL,
            revoked_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX authorizations_by_cert ON authorizations (cert_sha256);
        CREATE INDEX authorizations_by_seal ON authorizations (esid);
        CREATE TABLE usage_records (
            id TEXT PRIMARY KEY,
            esid TEXT NOT NULL,
            cert_sha256 TEXT,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            doc_sm3 TEXT,
            client TEXT NOT NULL,
            record TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE TABLE admin_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE platform_certs (
            sha256 TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            cert_der {{BLOB}} NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE audit (
            seq BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY,
            seq BIGINT NOT NULL,
            hash TEXT NOT NULL
        );
        INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HEX}')
        """,
    ),
]


def _dialect_sql(sql: str, dialect: str) -> str:
    return sql.replace("{BLOB}", "BYTEA" if dialect == "postgresql" else "BLOB")


def _applied(tx: Tx) -> set[int]:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return {int(r[0]) for r in tx.execute("SELECT version FROM schema_migrations")}


def migrate(db: Database) -> list[int]:
    """Apply the missing migrations, each in its own transaction. Returns the versions applied now."""
    done: list[int] = []
    for version, name, sql in MIGRATIONS:
        with db.transaction() as tx:
            if tx.dialect == "postgresql":
                # Two servers starting at once must not both migrate.
                tx.execute("SELECT pg_advisory_xact_lock(5843117)")
            if version in _applied(tx):
                continue
            tx.script(_dialect_sql(sql, tx.dialect))
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, iso(utcnow())),
            )
            done.append(version)
    return done


def schema_version(tx: Tx) -> int:
    return max(_applied(tx), default=0)
