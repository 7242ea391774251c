"""`sealbridge seals list` — the seals usable with the inserted tokens (token data objects + platform cache)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.common import add_json_flag, command, print_json
from agent.cli.token_options import add_token_options, token_sources
from formats.errors import SealBridgeError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("seals", help="list the seals usable with the inserted tokens")
    sub = parser.add_subparsers(dest="seals_command", metavar="ACTION")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

    p = sub.add_parser("list", help="seal id, name, kind, holder, validity, picture and binding of each seal")
    add_token_options(p, soft=True, config=True)
    p.add_argument("--data-dir", metavar="DIR", help="agent data dir holding the platform seal cache")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("put", help="write a seal file onto a PKCS#11 token as data object seal:<esID>")
    p.add_argument("seal", metavar="SEAL.esl", help="DER SESeal file")
    p.add_argument("--module", required=True, metavar="PATH", help="PKCS#11 module")
    p.add_argument("--token", required=True, metavar="LABEL", help="token label")
    p.add_argument("--pin-file", required=True, metavar="F", help="file whose first line is the user PIN")
    add_json_flag(p)
    p.set_defaults(func=cmd_put)


def _data_dir(args: argparse.Namespace) -> Path:
    from agent.config import load_config

    return Path(args.data_dir) if args.data_dir else load_config(args.config).data_dir


@command
def cmd_list(args: argparse.Namespace) -> int:
    from agent.seal_store import SealStore
    from agent.tokens.drivers import list_tokens

    data_dir = _data_dir(args)
    infos = []
    for token in list_tokens(token_sources(args, with_config=True)):
        try:
            infos.append(token.info())
        except SealBridgeError as err:
            if err.code != "TOKEN_ABSENT":
                raise
    # The CLI has no platform connection: platform seals come from the agent's cache only.
    store = SealStore(data_dir) if data_dir else None
    entries = store.seals_for_tokens(infos, refresh=False) if store else _token_only(infos)
    usable = [e for e in entries if e.usable]
    if args.json:
        # The seals in the protocol's sealInfo shape, exactly as seals.list gives them to the extension.
        print_json(
            {
                "tokens": [{"token_id": i.token_id, "label": i.label, "kind": i.kind} for i in infos],
                "seals": [e.to_info() for e in usable],
                "unusable": [e.to_unusable() for e in entries if not e.usable],
            }
        )
        return 0
    if not infos:
        print("没有检测到印章介质 / no token present")
        return 0
    if not entries:
        print("介质中没有可用印章 / no seals on the inserted tokens")
        return 0
    for e in entries:
        if not e.usable:
            print(f"{e.seal_id}  ({e.source})")
            print(f"    error: {e.to_unusable()['error']}")
            continue
        info = e.to_info()
        size = f"{info['width_mm']:g}×{info['height_mm']:g} mm" if info["width_mm"] is not None else "?"
        print(f"{e.seal_id}  {e.name}  [{info['kind'] or ''}]  ({e.source})")
        print(f"    holder 持有人: {e.holder or '-'}")
        print(f"    valid 有效期: {info['valid_from'] or '?'} … {info['valid_to'] or '?'}")
        print(f"    picture 图片: {e.seal.picture.type or '?'} {len(e.seal.picture.data)} bytes, {size}")
        print(f"    bound to 绑定: {e.token_id} key {e.key_id} (cert sha256 {(e.cert_sha256 or '')[:16]}…)")
    return 0


@command
def cmd_put(args: argparse.Namespace) -> int:
    from agent.cli.common import read_secret_file
    from agent.tokens.pkcs11 import open_token
    from formats.ses import parse_seal
    from stamping.smallfile import read_small_file

    try:
        der = read_small_file(args.seal)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {args.seal}: {exc.strerror}") from None
    seal = parse_seal(der)  # refuse anything that is not a readable seal
    token = open_token(args.token, None, [args.module])
    token.store_seal(read_secret_file(args.pin_file), der, seal.esid)
    result = {
        "token_id": token.token_id,
        "seal_id": seal.esid,
        "object_label": f"seal:{seal.esid}",
        "bytes": len(der),
    }
    if args.json:
        print_json(result)
    else:
        print(f"{seal.esid} → {token.token_id} (seal:{seal.esid}, {len(der)} bytes)")
    return 0


def _token_only(infos: list[Any]) -> list[Any]:
    from agent.seal_store import describe_seal

    return [describe_seal(der, "token", info) for info in infos for der in info.seals]
