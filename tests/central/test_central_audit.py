"""Art. 18/24: the hash-chained audit log; editing one byte in the database is found and named."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

from tests.support.central import REPO, SEALBRIDGE, http, make_cert, register_seal
from tests.support.usage import signed_usage


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*SEALBRIDGE, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)


def _seq_of(url: str, token: str, esid: str, action: str) -> int:
    code, body = http("GET", f"{url}/api/v1/admin/audit?subject={esid}", token=token)
    return next(r["seq"] for r in body["records"] if r["action"] == action)


def _sql(db_url: str, sql: str, params: tuple = ()) -> None:
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params)
    else:
        with sqlite3.connect(db_url) as conn:
            conn.execute(sql, params)


def test_audit_chain_detects_sql_edit_and_truncation(own_central):
    url, token, handle = own_central
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    http("POST", f"{url}/api/v1/admin/seals/{esid}/suspend", {"reason": "检查"}, token)
    http("POST", f"{url}/api/v1/admin/seals/{esid}/resume", {}, token)
    code, verdict = http("GET", f"{url}/api/v1/admin/audit/verify", token=token)
    assert code == 200 and verdict["ok"] and verdict["count"] >= 6
    seq = _seq_of(url, token, esid, "seal.suspend")

    # Someone rewrites who suspended the seal.
    _sql(handle.db_url, "UPDATE audit SET actor = ? WHERE seq = ?", ("admin:someone-else", seq))
    code, verdict = http("GET", f"{url}/api/v1/admin/audit/verify", token=token)
    assert not verdict["ok"] and verdict["first_bad_seq"] == seq, verdict
    _sql(
        handle.db_url,
        "UPDATE audit SET actor = (SELECT actor FROM audit WHERE seq = ?) WHERE seq = ?",
        (seq + 1, seq),
    )
    assert http("GET", f"{url}/api/v1/admin/audit/verify", token=token)[1]["ok"]

    # Someone removes the last record (and the chain head is now ahead of the table).
    code, recent = http("GET", f"{url}/api/v1/admin/audit?limit=1", token=token)
    last = recent["records"][0]["seq"]
    _sql(handle.db_url, "DELETE FROM audit WHERE seq = ?", (last,))
    verdict = http("GET", f"{url}/api/v1/admin/audit/verify", token=token)[1]
    assert not verdict["ok"] and verdict["first_bad_seq"] == last, verdict

    # The CLI says the same (exit 2, AUDIT_BROKEN, the record named).
    handle.stop()
    result = _cli("central", "audit", "verify", "--db", handle.db_url, "--json")
    assert result.returncode == 2, result.stderr
    err = json.loads(result.stdout)["error"]
    assert err["code"] == "AUDIT_BROKEN" and err["first_bad_seq"] == last


def test_audit_detects_one_byte_edited_in_the_sqlite_file(tmp_path):
    from tests.support.central import start_central

    url, token, handle = start_central(tmp_path)
    _, cert = make_cert()
    esid = register_seal(url, token, cert)["esID"]
    http("POST", f"{url}/api/v1/admin/seals/{esid}/suspend", {"reason": "TAMPER-ME-1"}, token)
    http("POST", f"{url}/api/v1/admin/seals/{esid}/revoke", {"reason": "final"}, token)
    seq = _seq_of(url, token, esid, "seal.suspend")
    handle.stop()
    db = handle.db_url
    ok = _cli("central", "audit", "verify", "--db", db, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"], ok.stdout + ok.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(open(db, "rb").read())
    needle = b'"reason":"TAMPER-ME-1"'  # canonical JSON only the audit record holds
    assert raw.count(needle) == 1
    pos = raw.index(needle) + len(b'"reason":"TAMPER-ME-')
    raw[pos] = ord("2")  # one byte: "TAMPER-ME-1" -> "TAMPER-ME-2"
    with open(db, "wb") as f:
        f.write(raw)
    bad = _cli("central", "audit", "verify", "--db", db, "--json")
    assert bad.returncode == 2
    err = json.loads(bad.stdout)["error"]
    assert err["code"] == "AUDIT_BROKEN" and err["first_bad_seq"] == seq
    text = _cli("central", "audit", "verify", "--db", db)
    assert f"#{seq}" in text.stderr and text.returncode == 2


def test_concurrent_writers_keep_one_chain(central):
    """Parallel writers (usage reports, status changes) on both databases: one unbroken chain, no lost record."""
    from concurrent.futures import ThreadPoolExecutor

    url, token, _ = central
    key, cert = make_cert()
    esids = [register_seal(url, token, cert)["esID"] for _ in range(3)]
    before = http("GET", f"{url}/api/v1/admin/audit/verify", token=token)[1]["count"]

    def report(i: int) -> int:
        rec = signed_usage(key, cert, esids[i % 3], id=f"concurrent-{esids[0]}-{i:04d}")
        return http("POST", f"{url}/api/v1/usage", {"records": [rec]})[0]

    def toggle(esid: str) -> list[int]:
        return [
            http("POST", f"{url}/api/v1/admin/seals/{esid}/{a}", {}, token)[0]
            for a in ("suspend", "resume") * 3
        ]

    with ThreadPoolExecutor(8) as pool:
        usage = list(pool.map(report, range(40)))
        toggles = list(pool.map(toggle, esids))
    assert usage == [200] * 40 and all(c == [200] * 6 for c in toggles)
    verdict = http("GET", f"{url}/api/v1/admin/audit/verify", token=token)[1]
    assert verdict["ok"], verdict
    assert verdict["count"] == before + 40 + 18
