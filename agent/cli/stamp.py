"""`sealbridge stamp` — put one or more seal images on a PDF or OFD and sign it with a token key.

The input never changes; the output is written to a temporary file next to the target and renamed into
place, so a failure leaves no output file at all.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from agent import __version__
from agent.cli.common import add_json_flag, command, print_json, read_document, read_secret_file
from agent.cli.token_options import add_token_options, token_sources
from formats.errors import SealBridgeError
from stamping.documents import document_format
from stamping.fileout import atomic_output
from stamping.options import Producer, StampOptions
from stamping.placement import Placement, check_count, parse_keyword, parse_place, parse_seam


class _PlacementAction(argparse.Action):
    """--place / --keyword / --seam keep their command-line order in one list."""

    parsers = {"--place": parse_place, "--keyword": parse_keyword, "--seam": parse_seam}

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        items = getattr(namespace, "placements", None) or []
        items.append((option_string, values))
        namespace.placements = items


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("stamp", help="stamp a PDF or OFD document with an electronic seal")
    p.add_argument("input", metavar="IN", help="the document (PDF or OFD, recognised by content)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the stamped document")
    add_token_options(p, token="required", pin_file="required")
    p.add_argument(
        "--seal", metavar="ESID_OR_FILE", help="a seal file (DER SESeal) or the esID of a token seal"
    )
    for flag, meta, text in (
        ("--place", "page=N,x=MM,y=MM", "seal centre on a page (mm from the top-left corner)"),
        ("--keyword", "TEXT[,nth=K][,dx=MM,dy=MM]", "centre on every (or the K-th) occurrence of TEXT"),
        ("--seam", "left|right|top|bottom[,pages=A-B][,offset=MM]", "riding seam (骑缝章) across pages"),
    ):
        p.add_argument(flag, action=_PlacementAction, metavar=meta, help=text + " (repeatable)")
    p.add_argument(
        "--lock", action="store_true", help="OFD: protect Signatures.xml so no later seal can be added"
    )
    p.add_argument("--reason", help="PDF: the signing reason")
    p.add_argument("--location", help="PDF: the signing location")
    add_json_flag(p)
    p.set_defaults(func=cmd_stamp, placements=None)


def _placements(args: argparse.Namespace) -> list[Placement]:
    out = [_PlacementAction.parsers[flag](spec) for flag, spec in (args.placements or [])]
    check_count(out)
    return out


def _choose_seal(info: Any, wanted: str | None) -> tuple[bytes, str | None]:
    """(seal DER, key_id to sign with) from --seal or the token's seals."""
    from formats.ses import parse_seal, signer_in_seal

    if wanted and Path(wanted).is_file():
        seal_der = Path(wanted).read_bytes()
        candidates = [parse_seal(seal_der)]
    else:
        candidates = []
        for der in info.seals:
            try:
                candidates.append(parse_seal(der))
            except SealBridgeError:
                continue  # a damaged seal on the token does not hide the others
        if wanted:
            candidates = [s for s in candidates if s.esid == wanted]
            if not candidates:
                raise SealBridgeError("SEAL_NOT_FOUND", f"no seal {wanted!r} on the token and no such file")
    bound = [(s, k) for s in candidates for k in info.keys if signer_in_seal(s, k.certificate)]
    if not bound:
        if wanted and candidates:
            # Let the stamper report SEAL_NOT_FOR_SIGNER with the details.
            return candidates[0].der, None
        raise SealBridgeError(
            "SEAL_NOT_FOUND", "the token holds no seal bound to its certificate (use --seal)"
        )
    if len({s.der for s, _ in bound}) > 1:
        ids = ", ".join(sorted({s.esid for s, _ in bound}))
        raise SealBridgeError("BAD_REQUEST", f"several seals fit ({ids}); choose one with --seal")
    seal, key = bound[0]
    return seal.der, key.key_id


@command
def cmd_stamp(args: argparse.Namespace) -> int:
    from agent.tokens.drivers import open_token

    placements = _placements(args)
    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise SealBridgeError("BAD_REQUEST", "the output must not be the input: originals are never changed")
    if not dst.resolve().parent.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"output folder {dst.parent} does not exist")
    data = read_document(src)
    doc_format = document_format(data)
    pin = read_secret_file(args.pin_file)
    token = open_token(args.token, token_sources(args))
    seal_der, key_id = _choose_seal(token.info(), args.seal)
    signer = token.signer(pin, key_id)
    options = StampOptions(
        lock=args.lock, reason=args.reason, location=args.location, producer=Producer(version=__version__)
    )
    target = dst.resolve()
    if target.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"{target} is a folder")
    # The stamper writes straight into the temp file next to the target ("w+b": the PDF signer fills in
    # the signature in place, no scratch copy); it is renamed into place only when stamping succeeded.
    with atomic_output(target, 0o600) as out:
        result = doc_format.stamp(data, out, signer, seal_der, placements, options)
    if args.json:
        print_json(
            {
                "output": str(dst),
                "format": result.format,
                "signatures": result.signature_ids,
                "pages": result.pages,
                "boxes": [list(b) for b in result.boxes],
            }
        )
    else:
        print(f"stamped {dst} ({result.format}): {', '.join(result.signature_ids)} on pages {result.pages}")
    return 0
