"""`sealbridge central admin …` and `… central audit …`: the admin operations straight on the database,
through the same service functions the HTTP admin API calls."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from central import admin_tokens, audit, authorizations, lifecycle, making, migrations, registry
from central.db import Database
from central.service import Central, Settings, default_key_dir
from formats.errors import SealBridgeError
from stamping.fileout import atomic_write
from stamping.smallfile import read_small_file


def default_db() -> str:
    env = os.environ.get("SEALBRIDGE_CENTRAL_DB")
    if env:
        return env
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("sealbridge")) / "central" / "central.db")


def settings_from(args: argparse.Namespace) -> Settings:
    db_url = args.db or default_db()
    key_dir = Path(args.key_dir) if getattr(args, "key_dir", None) else default_key_dir(db_url)
    return Settings(db_url=db_url, key_dir=key_dir)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def open_db(args: argparse.Namespace) -> Database:
    db = Database(args.db or default_db(), workers=1)
    migrations.migrate(db)
    return db


def read_file(path: str, what: str) -> bytes:
    try:
        return read_small_file(path)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {what} {path}: {exc.strerror}") from None


def read_cert(path: str) -> bytes:
    from formats.gm.keys import load_certificate

    return load_certificate(read_file(path, "certificate")).dump()


def _write_out(path: str, data: bytes) -> None:
    atomic_write(Path(path), data, 0o644)


# -- commands -------------------------------------------------------------------------------------------
def create_token(args: argparse.Namespace) -> dict[str, Any]:
    db = open_db(args)
    try:
        return db.run_sync(admin_tokens.create_token, args.name, actor())
    finally:
        db.close()


def list_tokens(args: argparse.Namespace) -> Any:
    return _on_db(args, admin_tokens.list_tokens, write=False)


def revoke_token(args: argparse.Namespace) -> Any:
    _on_db(args, admin_tokens.revoke_token, args.id, actor())
    return {"revoked": args.id}


def _on_db(args: argparse.Namespace, fn, *fargs: Any, write: bool = True) -> Any:
    db = open_db(args)
    try:
        return db.run_sync(fn, *fargs, write=write)
    finally:
        db.close()


def _on_central(args: argparse.Namespace, fn, *fargs: Any, **kwargs: Any) -> Any:
    central = Central(settings_from(args))
    try:
        return central.db.run_sync(fn, central.identity, *fargs, **kwargs)
    finally:
        central.close()


def company_add(args: argparse.Namespace) -> Any:
    return _on_db(args, registry.create_company, args.uscc, args.name, actor())


def companies(args: argparse.Namespace) -> Any:
    return _on_db(args, registry.list_companies, write=False)


def imprint_add(args: argparse.Namespace) -> Any:
    if args.picture:
        data = read_file(args.picture, "picture")
        size = args.size_mm or 40
    else:
        from formats.picture import draw_round_seal

        company = _on_db(args, registry.get_company, args.company, write=False)
        kind = making.parse_kind(args.draw_kind or "legal_name")
        size = args.size_mm or 42
        data = draw_round_seal(company["name"], kind.picture_label, diameter_mm=size, code=args.code)
    return _on_db(
        args, registry.add_imprint, args.company, args.name, "png", data, size, size, args.code, actor()
    )


def seal_make(args: argparse.Namespace) -> Any:
    seal = _on_central(
        args,
        making.make_seal,
        company=args.company,
        imprint_id=args.imprint,
        kind=args.kind,
        name=args.name,
        holder=args.holder,
        certs=[read_cert(p) for p in args.cert],
        valid_start=args.valid_start,
        valid_end=args.valid_end,
        esid=args.esid,
        actor=actor(),
    )
    return _seal_summary(seal, args.out)


def _seal_summary(seal: dict[str, Any], out: str | None) -> dict[str, Any]:
    der = seal.pop("seal_der", None)
    if out and der:
        _write_out(out, der)
        seal["written_to"] = out
    return seal


def seals(args: argparse.Namespace) -> Any:
    return _on_db(args, making.list_seals, args.company, write=False)


def seal_show(args: argparse.Namespace) -> Any:
    from central.status import history

    def detail(tx, esid):
        seal = making.get_seal(tx, esid)
        seal["history"] = [{"at": a, "status": s, "reason": r} for a, s, r in history(tx, esid)]
        seal["authorizations"] = authorizations.list_authorizations(tx, esid)
        return seal

    return _seal_summary(_on_db(args, detail, args.esid, write=False), args.out)


def seal_action(args: argparse.Namespace) -> Any:
    return _on_db(args, lifecycle.change_status, args.esid, args.action, args.reason, actor())


def renew(args: argparse.Namespace) -> Any:
    result = _on_central(
        args,
        lifecycle.renew,
        args.esid,
        actor(),
        certs=[read_cert(p) for p in args.cert] if args.cert else None,
        valid_end=args.valid_end,
        new_esid=args.new_esid,
        reason=args.reason,
    )
    return {"old": result["old"], "new": _seal_summary(result["new"], args.out)}


def authorize(args: argparse.Namespace) -> Any:
    return _on_central(
        args,
        authorizations.grant,
        args.esid,
        read_cert(args.cert),
        args.grantee,
        args.until,
        actor(),
        args.not_before,
    )


def withdraw(args: argparse.Namespace) -> Any:
    return _on_central(args, authorizations.withdraw, args.id, actor())


def list_authorizations(args: argparse.Namespace) -> Any:
    return _on_db(args, authorizations.list_authorizations, args.esid, write=False)


def audit_verify(args: argparse.Namespace) -> dict[str, Any]:
    verdict = _on_db(args, audit.verify_chain, write=False)
    if not verdict.ok:
        raise SealBridgeError(
            "AUDIT_BROKEN",
            f"first bad record: #{verdict.first_bad_seq} ({verdict.reason}); {verdict.count} records verified before it",
            {"first_bad_seq": verdict.first_bad_seq, "count": verdict.count},
        )
    return verdict.to_dict()


def audit_export(args: argparse.Namespace) -> Any:
    return _on_db(args, audit.recent, args.limit, args.subject, write=False)
