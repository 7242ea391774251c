"""`sealbridge token init|import|list|change-pin` — manage soft tokens and list tokens (soft and PKCS#11).

PINs and passwords come only from files (first line) or, when no file is given, an interactive prompt;
they are never printed. Output with --json is one JSON object on stdout; errors go through agent.cli.common.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import sys
from pathlib import Path
from typing import Any

from agent.cli.common import add_json_flag, command, print_json, read_secret_file
from agent.cli.token_options import add_token_options, token_sources
from agent.tokens.base import Token, TokenInfo
from formats.errors import SealBridgeError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("token", help="manage soft tokens; list tokens, certificates and seals")
    sub = parser.add_subparsers(dest="token_command", metavar="ACTION")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

    p = sub.add_parser(
        "init",
        help="create a soft token (empty, or with a new key and self-signed certificate given --key-type)",
    )
    p.add_argument("--soft", required=True, metavar="PATH", help="token file to create")
    p.add_argument("--pin-file", metavar="F", help="file whose first line is the new PIN (else prompt)")
    p.add_argument("--key-type", choices=("sm2", "rsa", "ecdsa"), help="also generate a key of this type")
    p.add_argument("--subject", metavar="CN", help="common name of the self-signed certificate")
    p.add_argument("--label", help="token label (default: the file name)")
    p.add_argument("--force", action="store_true", help="overwrite an existing token file")
    add_json_flag(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("import", help="import a key and its certificates from a PKCS#12 file")
    p.add_argument("--soft", required=True, metavar="PATH", help="token file (created if missing)")
    p.add_argument("--pin-file", metavar="F", help="file whose first line is the token PIN (else prompt)")
    p.add_argument("--p12", required=True, metavar="FILE", help="PKCS#12 (.p12/.pfx) file")
    p.add_argument("--p12-password-file", metavar="F2", help="file with the PKCS#12 password (else prompt)")
    p.add_argument("--label", help="label of the imported key (default: certificate common name)")
    add_json_flag(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("list", help="list tokens with their keys, certificates and seals (no PIN needed)")
    # Without --soft/--module/--skf-module the agent configuration's tokens are listed.
    add_token_options(p, soft=True, config=True)
    add_json_flag(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("change-pin", help="change a token's user PIN (soft token, PKCS#11 token or SKF key)")
    p.add_argument("--soft", metavar="PATH", help="soft token file (the same as --token soft:PATH)")
    add_token_options(p, token="optional", pin_file="optional")
    p.add_argument("--new-pin-file", metavar="F2", help="file with the new PIN (else prompt)")
    add_json_flag(p)
    p.set_defaults(func=cmd_change_pin)


# ------------------------------------------------------------------------------------------- secrets


def _secret(path: str | None, prompt: str, confirm: bool = False) -> str:
    if path:
        return read_secret_file(path)
    try:
        interactive = sys.stdin.isatty()
    except (AttributeError, OSError, ValueError):  # closed or replaced stdin
        interactive = False
    if not interactive:
        raise SealBridgeError(
            "BAD_REQUEST", f"no file given for: {prompt.rstrip(': ')}, and no terminal to ask"
        )
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat 再次输入: ") != value:
        raise SealBridgeError("PIN_INVALID", "the two entries differ")
    return value


# ------------------------------------------------------------------------------------------- commands


@command
def cmd_init(args: argparse.Namespace) -> int:
    from agent.tokens.soft import SoftKeyEntry, SoftToken, check_new_pin

    path = Path(args.soft)
    if path.exists() and not args.force:
        raise SealBridgeError("CONFLICT", f"{path} already exists (use --force to overwrite)")
    pin = _secret(args.pin_file, "New PIN 新口令: ", confirm=True)
    check_new_pin(pin)  # before spending time on key generation
    keys = []
    if args.key_type:
        from agent.devpki import self_signed_key

        key, cert = self_signed_key(args.key_type, args.subject or f"SealBridge dev {args.key_type} key")
        keys.append(SoftKeyEntry(key, cert, []))
    token = SoftToken.create(path, pin, label=args.label or "", keys=keys, overwrite=args.force)
    info = token.info()
    if args.json:
        print_json({"created": str(path), "token": token_json(info)})
    else:
        print(
            f"created soft token {path}"
            + (f" with a self-signed {args.key_type} key" if keys else " (empty)")
        )
        _print_token(info)
    return 0


@command
def cmd_import(args: argparse.Namespace) -> int:
    from agent.tokens.soft import SoftKeyEntry, SoftToken, check_new_pin
    from formats.gm.keys import load_pkcs12
    from stamping.smallfile import read_small_file

    path = Path(args.soft)
    try:
        p12 = read_small_file(args.p12)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {args.p12}: {exc.strerror}") from None
    created = not path.exists()
    token = None if created else SoftToken(path)  # a foreign file fails here, before any prompt
    pin = _secret(args.pin_file, "Token PIN 口令: ", confirm=created)
    if created:
        check_new_pin(pin)
    password = _secret(args.p12_password_file, "PKCS#12 password 密码: ")
    # Open the PKCS#12 first: a wrong password must not leave a new, empty token behind.
    key, cert_der, chain = load_pkcs12(p12, password)
    entry = SoftKeyEntry(key, cert_der, list(chain), args.label or "")
    if token is None:
        token = SoftToken.create(path, pin, keys=[entry])
        key_id = token.info().keys[0].key_id
    else:
        key_id = token.add_key(pin, entry)
    info = token.info()
    if args.json:
        print_json({"imported": key_id, "created": created, "token": token_json(info)})
    else:
        print(f"imported key {key_id} into {path}" + (" (new token)" if created else ""))
        _print_token(info)
    return 0


@command
def cmd_list(args: argparse.Namespace) -> int:
    from agent.tokens.drivers import list_tokens

    sources = token_sources(args)
    if args.config or not sources.any():
        # Without explicit tokens, list what the agent is configured with (as `seals list` does).
        sources = token_sources(args, with_config=True)
    if not sources.any():
        raise SealBridgeError(
            "BAD_REQUEST",
            "no token configured: name a soft token (--soft PATH), a PKCS#11 module (--module PATH) "
            "or an SKF library (--skf-module LIB)",
        )
    tokens: list[Token] = list_tokens(sources)
    infos = []
    for token in tokens:
        try:
            infos.append(token.info())
        except SealBridgeError as err:
            # A USB key pulled out while listing is simply not listed; a named soft token must exist.
            if err.code != "TOKEN_ABSENT" or getattr(token, "kind", "") == "soft":
                raise
    if args.json:
        print_json({"tokens": [token_json(i) for i in infos]})
    else:
        if not infos:
            print("no token found")
        for info in infos:
            _print_token(info)
    return 0


@command
def cmd_change_pin(args: argparse.Namespace) -> int:
    from agent.tokens.drivers import open_token

    if bool(args.soft) == bool(args.token):
        raise SealBridgeError("BAD_REQUEST", "name the token with --soft PATH or --token SPEC (one of them)")
    spec = args.token or f"soft:{args.soft}"
    token = open_token(spec, token_sources(args))
    old = _secret(args.pin_file, "Current PIN 当前口令: ")
    new = _secret(args.new_pin_file, "New PIN 新口令: ", confirm=True)
    token.change_pin(old, new)
    if args.json:
        print_json({"changed": True, "token_id": spec})
    else:
        print(f"PIN changed for {args.soft or args.token}")
    return 0


# ------------------------------------------------------------------------------------------- rendering


def cert_json(cert_der: bytes) -> dict[str, Any]:
    from formats.ses.summary import cert_info

    return cert_info(cert_der)


def seal_json(seal_der: bytes) -> dict[str, Any]:
    """The `seal inspect` summary of a stored seal (maker signature checked), plus its SHA-256."""
    from formats.ses import parse_seal
    from formats.ses.summary import seal_summary

    try:
        out = seal_summary(parse_seal(seal_der))
    except SealBridgeError as err:
        out = {"kind": "seal", "error": err.to_dict()}
    out["sha256"] = hashlib.sha256(seal_der).hexdigest()
    return out


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "token_id": info.token_id,
        "label": info.label,
        "kind": info.kind,
        "serial": info.serial,
        "manufacturer": info.manufacturer,
        "pin_pad": info.pin_pad,
        **{k: v for k, v in info.extra.items() if k in ("locked", "retries_left", "path")},
        "keys": [
            {
                "key_id": k.key_id,
                "label": k.label,
                "algorithm": k.algorithm,
                "certificate": cert_json(k.certificate),
                "chain": [cert_json(c) for c in k.chain],
            }
            for k in info.keys
        ],
        "seals": [seal_json(s) for s in info.seals],
    }


def _print_token(info: TokenInfo) -> None:
    data = token_json(info)
    if data.get("locked"):
        state = "  (PIN LOCKED)"
    elif "retries_left" in data:
        state = f"  ({data['retries_left']} PIN tries left)"
    else:
        state = ""
    print(f"{info.token_id}  [{info.label}]  serial {info.serial}{state}")
    for key in data["keys"]:
        cert = key["certificate"]
        print(f"  key {key['key_id']}  {key['algorithm']}  {key['label']}")
        print(f"    subject {cert.get('subject', '?')}")
        print(
            f"    issuer  {cert.get('issuer', '?')}  valid {cert.get('not_before')} .. {cert.get('not_after')}"
        )
    if not data["keys"]:
        print("  (no keys)")
    for seal in data["seals"]:
        if "error" in seal:
            print(f"  seal (unreadable: {seal['error']['code']})")
            continue
        label = seal.get("type_label") or {}
        kind = label.get("label_zh") or f"type {seal['type']}"
        print(f"  seal {seal['esID']}  {seal['name']}  {kind}  V{seal['version']}")
        print(
            f"    valid {seal['valid_from']} .. {seal['valid_to']}  maker signature {seal['maker_signature']}"
        )
