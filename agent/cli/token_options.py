"""The token options every command shares (stamp, token list, token change-pin, seals list), in one place.

--token names one token (a spec of the driver table); --soft / --module / --skf-module name where tokens come
from; --config adds the agent configuration's soft tokens, PKCS#11 modules and SKF libraries.
"""

from __future__ import annotations

import argparse

from agent.tokens.drivers import TokenSources

TOKEN_HELP = "soft:PATH, pkcs11:LABEL[/CKA_ID] or skf:DEVICE[/APPLICATION/CONTAINER]"


def add_token_options(
    parser: argparse.ArgumentParser,
    *,
    token: str = "none",  # "required" | "optional" | "none"
    soft: bool = False,
    config: bool = False,
    pin_file: str = "none",  # "required" | "optional" | "none"
) -> None:
    if token != "none":
        parser.add_argument("--token", required=token == "required", metavar="SPEC", help=TOKEN_HELP)
    if pin_file != "none":
        parser.add_argument(
            "--pin-file",
            required=pin_file == "required",
            metavar="F",
            help="file whose first line is the PIN" + (" (else prompt)" if pin_file == "optional" else ""),
        )
    if soft:
        parser.add_argument(
            "--soft", action="append", default=[], metavar="PATH", help="a soft token file (repeatable)"
        )
    parser.add_argument(
        "--module", action="append", default=[], metavar="PATH", help="a PKCS#11 module (repeatable)"
    )
    parser.add_argument(
        "--skf-module",
        action="append",
        default=[],
        metavar="LIB",
        help="an SKF (GM/T 0016) library, .so or .dll (repeatable)",
    )
    if config:
        parser.add_argument(
            "--config",
            metavar="FILE",
            help="agent configuration: also use its soft tokens, PKCS#11 modules and SKF libraries",
        )


def token_sources(args: argparse.Namespace, *, with_config: bool = False) -> TokenSources:
    """The sources named on the command line; with `with_config`, the agent configuration's are added
    (a library named in both keeps its configured table, i.e. its vendor profile)."""
    soft = list(getattr(args, "soft", []) or [])
    pkcs11 = list(getattr(args, "module", []) or [])
    skf = list(getattr(args, "skf_module", []) or [])
    if with_config:
        from agent.config import load_config, merge_modules

        cfg = load_config(getattr(args, "config", None))
        pkcs11 = merge_modules(pkcs11, cfg.pkcs11_modules)
        skf = merge_modules(skf, cfg.skf_modules)
        soft += [s for s in cfg.soft_tokens if s not in soft]
    return TokenSources.of(soft=soft, pkcs11=pkcs11, skf=skf)
