"""`sealbridge dev-pki DIR` — write a throw-away demo PKI, seals and soft tokens (development only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.common import add_json_flag, command, print_json


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dev-pki",
        help="write a demo PKI: roots, signer and maker keys, V4 seals, soft tokens (development only)",
        description="Write a demo PKI into DIR (see docs/soft-token.md). Keys are unencrypted: never use "
        "them for real documents.",
    )
    p.add_argument("dir", metavar="DIR", help="target directory (must be empty or absent)")
    p.add_argument("--force", action="store_true", help="write into a non-empty directory, overwriting")
    add_json_flag(p)
    p.set_defaults(func=cmd_dev_pki)


@command
def cmd_dev_pki(args: argparse.Namespace) -> int:
    from agent.devpki import make_dev_pki

    pki = make_dev_pki(Path(args.dir), force=args.force)
    if args.json:
        print_json(pki.to_json())
        return 0
    print(f"dev PKI written to {pki.dir} (development only: keys are unencrypted)")
    print(f"  company {pki.company}  USCC {pki.uscc}")
    for path in pki.files:
        note = ""
        for name, seal in pki.seals.items():
            if seal == path:
                note = f"  esID {pki.seal_ids[name]}  {pki.seal_kinds[name]}"
        print(f"  {path.relative_to(pki.dir)}{note}")
    print(f"soft token PIN is in {pki.pin_file.relative_to(pki.dir)}")
    return 0
