"""The hash-chained audit log: intact chains verify; one edited byte, a deleted record or a broken link is
named by `sealbridge audit verify`; export gives every record."""

from __future__ import annotations

import json
import sqlite3

import pytest

from agent.audit import AuditLog
from formats.gm import sm3
from formats.hashchain import GENESIS_HEX
from sealbridge.cli import main


def fill(path, n=5) -> None:
    log = AuditLog(path)
    for i in range(1, n + 1):
        log.append(
            "stamp",
            "OK",
            origin_top=f"https://site-{i}.example",
            origin_frame=f"https://site-{i}.example",
            doc_sm3_before="ab" * 32,
            doc_sm3_after="cd" * 32,
            seal_id="32130026000001",
            cert_serial="1f",
            detail={"n": i},
        )
    log.close()


def run_cli(capsys, *argv) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_chain_is_sm3_of_previous_hash_and_canonical_record(tmp_path):
    path = tmp_path / "audit.sqlite3"
    fill(path, 3)
    log = AuditLog(path)
    recs = log.records()
    assert recs[0].prev_hash == GENESIS_HEX
    for prev, rec in zip([None, *recs], recs, strict=False):
        if prev is not None:
            assert rec.prev_hash == prev.hash
        assert rec.hash == sm3(bytes.fromhex(rec.prev_hash) + rec.canonical()).hex()
    assert log.verify().ok and log.verify().count == 3
    log.close()


def test_intact_log_verifies(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    fill(path)
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path), "--json")
    assert code == 0 and out["ok"] and out["count"] == 5


def test_one_edited_byte_is_named(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    fill(path)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"https://site-3.example")
    assert at > 0 and raw.count(b"https://site-3.example") == 2  # top and frame origin of record 3
    raw[at + len("https://site-")] = ord("8")  # one byte: site-3 -> site-8
    path.write_bytes(bytes(raw))
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path), "--json")
    assert code == 1
    assert out["ok"] is False and out["first_bad_seq"] == 3 and out["count"] == 2


def test_deleted_and_relinked_records_are_named(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    fill(path)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit WHERE seq = 2")
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path), "--json")
    assert code == 1 and out["first_bad_seq"] == 2 and "missing" in out["reason"]

    path2 = tmp_path / "audit2.sqlite3"
    fill(path2)
    with sqlite3.connect(path2) as db:  # a changed field: the stored hash no longer matches
        db.execute("UPDATE audit SET result = 'PIN_INCORRECT' WHERE seq = 4")
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path2), "--json")
    assert code == 1 and out["first_bad_seq"] == 4


def test_text_report_names_the_record(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    fill(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE audit SET seal_id = '32130026000009' WHERE seq = 5")
    assert main(["audit", "verify", "--db", str(path)]) == 1
    captured = capsys.readouterr()
    assert "record 5" in captured.out and "AUDIT_BROKEN" in captured.err


def test_export_json(tmp_path, capsys):
    path = tmp_path / "audit.sqlite3"
    fill(path, 4)
    code, out = run_cli(capsys, "audit", "export", "--db", str(path), "--json")
    assert code == 0 and len(out["records"]) == 4 and out["chain"]["ok"]
    assert out["records"][3]["origin_top"] == "https://site-4.example"
    assert out["records"][0]["detail"] == {"n": 1}


def test_missing_log_is_a_clean_error(tmp_path, capsys):
    code = main(["audit", "verify", "--db", str(tmp_path / "nope.sqlite3"), "--json"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "NOT_FOUND"


def test_unknown_event_is_refused(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite3")
    with pytest.raises(ValueError):
        log.append("sign_raw", "OK")
    log.close()


def test_cut_tail_without_head_is_not_called_intact(tmp_path, capsys):
    """The newest records AND the head file removed: the shorter chain is internally fine, so verify must
    say it cannot rule out a cut tail (text and JSON) and fail unless --no-head accepts that."""
    from agent.audit import head_path

    path = tmp_path / "audit.sqlite3"
    fill(path, 5)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit WHERE seq > 3")
    head_path(path).unlink()
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path), "--json")
    assert code == 1 and out["ok"] is True and out["count"] == 3
    assert "head" in out["warning"] and "not detectable" in out["warning"]
    assert main(["audit", "verify", "--db", str(path)]) == 1
    text = capsys.readouterr()
    assert "缺少头记录文件" in text.out and "--no-head" in text.err
    code, out = run_cli(capsys, "audit", "verify", "--db", str(path), "--json", "--no-head")
    assert code == 0 and out["warning"]


def test_audit_files_are_private_including_wal_and_shm(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        log = AuditLog(tmp_path / "audit.sqlite3")
        log.append("verify", "OK", origin_top="https://a.example", origin_frame="https://a.example")
        files = sorted(p.name for p in tmp_path.iterdir())
        assert "audit.sqlite3-wal" in files and "audit.sqlite3-shm" in files, files
        for p in tmp_path.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))
        log.close()
    finally:
        os.umask(old)
