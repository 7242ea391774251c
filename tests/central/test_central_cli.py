"""`sealbridge central admin …` and `… audit …` on a real SQLite file, through the same service layer."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

from formats.ses import parse_seal, verify_maker
from tests.support.central import REPO, SEALBRIDGE, make_cert


def _cli(*args: str, ok: bool = True) -> dict | list:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run(
        [*SEALBRIDGE, *args, "--json"], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
    )
    assert (res.returncode == 0) == ok, res.stdout + res.stderr
    return json.loads(res.stdout)


def test_admin_cli_end_to_end(tmp_path):
    db = str(tmp_path / "c.db")
    _, cert = make_cert("张三")
    _, deputy = make_cert("李四")
    (tmp_path / "holder.der").write_bytes(cert)
    (tmp_path / "deputy.der").write_bytes(deputy)
    company = _cli(
        "central",
        "admin",
        "company-add",
        "--db",
        db,
        "--uscc",
        "91350100M000100Y43",
        "--name",
        "宿迁测试有限公司",
    )
    err = _cli(
        "central", "admin", "company-add", "--db", db, "--uscc", "91350100M000100Y40", "--name", "x", ok=False
    )
    assert err["error"]["code"] == "BAD_REQUEST"
    imprint = _cli(
        "central",
        "admin",
        "imprint-add",
        "--db",
        db,
        "--company",
        company["uscc"],
        "--name",
        "合同章",
        "--draw-kind",
        "contract",
        "--code",
        "3213000012345",
    )
    assert imprint["width_mm"] == 42 and imprint["code"] == "3213000012345"
    out = tmp_path / "seal.esl"
    seal = _cli(
        "central",
        "admin",
        "seal-make",
        "--db",
        db,
        "--company",
        company["id"],
        "--imprint",
        imprint["id"],
        "--kind",
        "contract",
        "--name",
        "宿迁测试有限公司合同专用章",
        "--holder",
        "张三",
        "--cert",
        str(tmp_path / "holder.der"),
        "--out",
        str(out),
    )
    parsed = parse_seal(out.read_bytes())
    assert parsed.esid == seal["esID"] and verify_maker(parsed)[0] == "ok"
    assert (tmp_path / "platform-keys" / "maker.key.pem").stat().st_mode & 0o077 == 0
    until = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    auth = _cli(
        "central",
        "admin",
        "authorize",
        seal["esID"],
        "--db",
        db,
        "--cert",
        str(tmp_path / "deputy.der"),
        "--grantee",
        "李四",
        "--until",
        until,
    )
    assert auth["active"]
    suspended = _cli("central", "admin", "suspend", seal["esID"], "--db", db, "--reason", "盘点")
    assert suspended["status"] == "suspended"
    shown = _cli("central", "admin", "seal-show", seal["esID"], "--db", db)
    assert [h["status"] for h in shown["history"]] == ["active", "suspended"] and shown["revision"] == 2
    verdict = _cli("central", "audit", "verify", "--db", db)
    assert verdict["ok"] and verdict["count"] == 6
    records = _cli("central", "audit", "export", "--db", db, "--subject", seal["esID"])
    assert [r["action"] for r in records] == [
        "seal.suspend",
        "seal.remake",
        "authorization.grant",
        "seal.make",
    ]
    assert all(r["actor"].startswith("cli") for r in records)


def test_central_refuses_public_bind_without_flag(tmp_path):
    err = _cli("central", "--db", str(tmp_path / "c.db"), "--host", "0.0.0.0", ok=False)
    assert err["error"]["code"] == "BAD_REQUEST"
