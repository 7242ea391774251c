"""`sealbridge stamp` — put one or more seal images on a PDF or OFD and sign it with a token key.

The input never changes; the output is written to a temporary file next to the target and renamed into
place, so a failure leaves no output file at all. A PDF is stamped from its path in one pass (read once
while it is copied and hashed, never held whole in memory); an OFD package is read into memory. With several inputs and `--out-dir`, every document gets
the same placements with one token login; a document that fails is reported with its code (one JSON line
per document with `--json`) and the others go on; the exit code is 2 when any document failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.collector import collector_paused_then_frozen
from agent.cli.common import (
    about_file,
    add_json_flag,
    command,
    document_size,
    ended_by_signals,
    print_json,
    read_document,
    read_secret_file,
)
from agent.cli.token_options import add_token_options, token_sources
from formats.errors import SealBridgeError
from formats.pdfhead import PDF_HEADER_WINDOW, is_pdf_head
from stamping.documents import DocumentFormat, document_format, format_named
from stamping.fileout import atomic_output
from stamping.gilhandoff import prompt_handoffs
from stamping.options import Producer, StampOptions, StampResult
from stamping.placement import Placement, check_count, parse_keyword, parse_place, parse_seam

if TYPE_CHECKING:
    from stamping.timestamps import TimeStamper


class _PlacementAction(argparse.Action):
    """--place / --keyword / --seam keep their command-line order in one list."""

    parsers = {"--place": parse_place, "--keyword": parse_keyword, "--seam": parse_seam}

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        items = getattr(namespace, "placements", None) or []
        items.append((option_string, values))
        namespace.placements = items


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("stamp", help="stamp a PDF or OFD document with an electronic seal")
    p.add_argument("input", metavar="IN", nargs="+", help="the documents (PDF or OFD, recognised by content)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="OUT", help="where to write the stamped document (one input)")
    out.add_argument(
        "--out-dir", metavar="DIR", help="write each stamped document under its own name into this folder"
    )
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
    p.add_argument(
        "--tsa",
        metavar="URL",
        help="RFC 3161 time-stamp authority, e.g. the platform's http://HOST:PORT/api/v1/tsa; "
        "a TSA that cannot be reached refuses the stamp (TSA_UNREACHABLE)",
    )
    p.add_argument(
        "--tsa-optional",
        action="store_true",
        help="with --tsa: when the TSA cannot be reached, stamp without a timestamp and say so",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_stamp, placements=None)


def _placements(args: argparse.Namespace) -> list[Placement]:
    out = [_PlacementAction.parsers[flag](spec) for flag, spec in (args.placements or [])]
    check_count(out)
    return out


def _choose_seal(info: Any, wanted: str | None) -> tuple[bytes, str | None]:
    """(seal DER, key_id to sign with) from --seal or the token's seals."""
    from formats.ses import parse_seal, signer_in_seal
    from stamping.smallfile import read_small_file

    if wanted and Path(wanted).is_file():
        try:
            seal_der = read_small_file(wanted)
        except OSError as exc:
            raise SealBridgeError("BAD_REQUEST", f"cannot read {wanted}: {exc.strerror}") from None
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


def _output_paths(inputs: list[Path], out_dir: Path) -> list[Path]:
    if not out_dir.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"output folder {out_dir} does not exist")
    names = [p.name for p in inputs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SealBridgeError(
            "BAD_REQUEST", f"several inputs are named {', '.join(twice)}: outputs would collide"
        )
    return [out_dir / p.name for p in inputs]


def _check_paths(src: Path, dst: Path) -> None:
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise SealBridgeError("BAD_REQUEST", "the output must not be the input: originals are never changed")
    if not dst.resolve().parent.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"output folder {dst.parent} does not exist")


def _open_document(path: Path) -> tuple[DocumentFormat, Path | bytes]:
    """The document's format and what its stamper gets: a PDF its path (stamped in one pass, never loaded
    whole), an OFD package its bytes. An unusable input is refused here, before the token is opened."""
    document_size(path)
    try:
        with open(path, "rb") as f:
            head = f.read(PDF_HEADER_WINDOW)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {path}: {exc.strerror}") from None
    if is_pdf_head(head):
        return format_named("pdf"), path
    data = read_document(path)
    with about_file(path):
        return document_format(data), data


def _target(src: Path, dst: Path) -> Path:
    _check_paths(src, dst)
    target = dst.resolve()
    if target.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"{target} is a folder")
    return target


def _stamp_one(
    src: Path,
    dst: Path,
    signer: Any,
    seal_der: bytes,
    placements: list[Placement],
    options: StampOptions,
    stamper: TimeStamper | None,
    required: bool,
    opened: tuple[DocumentFormat, Path | bytes] | None = None,
) -> tuple[StampResult, str]:
    from agent.tsa_client import stamp_with_timestamp_policy  # a PDF stamped without TSA never needs it

    target = _target(src, dst)
    doc_format, source = opened or _open_document(src)

    # The stamper writes straight into the temp file next to the target; it is renamed into place only
    # when stamping succeeded.
    def attempt(timestamper: TimeStamper | None) -> StampResult:
        options.timestamper = timestamper
        with atomic_output(target, 0o600) as out:
            return doc_format.stamp(source, out, signer, seal_der, placements, options)

    return stamp_with_timestamp_policy(attempt, stamper, required)


def _stamp_pdf_while_logging_in(
    args: argparse.Namespace, src: Path, dst: Path, placements: list[Placement], options: StampOptions
) -> StampResult:
    """One PDF, no TSA: its copy into the output starts first, on a worker thread, and runs while the
    token opens and unlocks and the stamper loads (stamping/copyhash.py); the stamper then continues
    from it. The copy starts with SM3 (the audit's digest and SM2's); a key that signs with SHA-256
    adds that digest once the key is chosen."""
    from agent.tokens.drivers import open_token
    from stamping.copyhash import HashingCopy

    target = _target(src, dst)
    with prompt_handoffs(), atomic_output(target, 0o600) as out:
        copy = HashingCopy(src, out, ["sm3"], writeback=True).start()
        try:
            with collector_paused_then_frozen():
                pin = read_secret_file(args.pin_file)
                token = open_token(args.token, token_sources(args))
                info = token.info()
                seal_der, key_id = _choose_seal(info, args.seal)
                algorithms = {k.algorithm for k in info.keys if key_id is None or k.key_id == key_id}
                copy.add("sha256" for a in algorithms if a != "sm2")
                signer = _login_while_loading(token, pin, key_id, ["pdf"], seal_der)
            return format_named("pdf").stamp(copy, out, signer, seal_der, placements, options)
        finally:
            copy.cancel()  # after a failure nothing more reaches the output (a no-op once copied)


def _load_stampers(stampers: list[str], seal_der: bytes | None) -> None:
    from agent.cli.pyhanko_import import import_lean

    for name in stampers:
        import_lean(f"stamping.{name}.stamp")
    if "pdf" in stampers and seal_der is not None:
        from stamping.pdf.stamp import prepare_picture

        prepare_picture(seal_der)
    if "pdf" in stampers:
        # pyHanko's signing session reads the local time zone (tzlocal: /etc/localtime and the zoneinfo
        # data, ~20 ms) the first time, even though the stamp gives it the signing time; here it is read
        # beside the login instead of in the stamp. tzlocal keeps it for the process.
        try:
            import tzlocal

            tzlocal.get_localzone()
        except Exception:  # noqa: BLE001 - only a head start: the stamp meets and reports the same
            pass


def _login_while_loading(
    token: Any, pin: str, key_id: str | None, stampers: list[str], seal_der: bytes | None = None
) -> Any:
    """The token login, with the stampers the run needs imported on a second thread meanwhile, and the
    seal picture prepared there for the PDF stamper (stamping.pdf.stamp.prepare_picture).

    A soft token's PIN derivation (argon2id, ~0.2 s, by design) runs in C without the GIL, and importing
    the PDF stamper (pyHanko, ~0.2 s without aiohttp: pyhanko_import.py) is Python: on two cores they
    overlap. The login itself stays on this thread (hardware tokens may be bound to the thread that
    logged in). The other thread only loads and prepares: what it fails at, stamping does again on this
    thread and reports with the usual codes."""
    from concurrent.futures import ThreadPoolExecutor

    from formats.keysigner import KeySigner  # noqa: F401 - the login's import, done before the other thread

    if not stampers:
        return token.signer(pin, key_id)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stamper-import") as pool:
        loading = pool.submit(_load_stampers, stampers, seal_der)
        signer = token.signer(pin, key_id)
        loading.result()
    return signer


@command
def cmd_stamp(args: argparse.Namespace) -> int:
    with ended_by_signals():  # a stamp stopped by `kill` leaves no temp file behind, as Ctrl-C does
        return _stamp(args)


def _stamp(args: argparse.Namespace) -> int:
    from agent.tokens.drivers import open_token

    placements = _placements(args)
    inputs = [Path(p) for p in args.input]
    if args.output is not None and len(inputs) > 1:
        raise SealBridgeError("BAD_REQUEST", "several inputs need --out-dir, not -o")
    outputs = [Path(args.output)] if args.output is not None else _output_paths(inputs, Path(args.out_dir))
    single: tuple[DocumentFormat, Path | bytes] | None = None
    if args.output is not None:  # one document: an unusable input is refused before the token is opened
        _check_paths(inputs[0], outputs[0])
        single = _open_document(inputs[0])
    options = StampOptions(lock=args.lock, reason=args.reason, location=args.location)
    if single is not None and not args.tsa and isinstance(single[1], Path):
        result = _stamp_pdf_while_logging_in(args, inputs[0], outputs[0], placements, options)
        _print_single(args, outputs[0], result, "none")
        return 0
    pin = read_secret_file(args.pin_file)
    token = open_token(args.token, token_sources(args))
    seal_der, key_id = _choose_seal(token.info(), args.seal)
    if single is None or single[0].name != "pdf":  # the OFD Provider names our version; PDF has no such field
        import agent

        options.producer = Producer(version=agent.__version__)
    stamper = None
    if args.tsa:
        from agent.tsa_client import HttpTimeStamper

        stamper = HttpTimeStamper(args.tsa)
    required = not args.tsa_optional
    stampers = [single[0].name] if single is not None else []
    with collector_paused_then_frozen():
        signer = _login_while_loading(token, pin, key_id, stampers, seal_der)  # one login for every document
    if single is not None:
        result, how = _stamp_one(
            inputs[0], outputs[0], signer, seal_der, placements, options, stamper, required, single
        )
        _print_single(args, outputs[0], result, how)
        return 0
    failed = 0
    for src, dst in zip(inputs, outputs, strict=True):
        line: dict[str, Any] = {"input": str(src)}
        try:
            result, how = _stamp_one(src, dst, signer, seal_der, placements, options, stamper, required)
        except SealBridgeError as err:
            failed += 1
            line |= {"status": "failed", "error": err.to_dict()}
        except Exception as exc:  # a bug in one document's stamping must not stop the others
            failed += 1
            line |= {"status": "failed", "error": SealBridgeError("INTERNAL", type(exc).__name__).to_dict()}
        else:
            line |= {"status": "stamped", "output": str(dst), "format": result.format}
            line |= {"signatures": result.signature_ids, "pages": result.pages, "timestamp": how}
            line |= _digests(result)
        _print_line(args, line)
    return 2 if failed else 0


def _print_line(args: argparse.Namespace, line: dict[str, Any]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    elif line["status"] == "stamped":
        print(f"已盖章 stamped {line['input']} → {line['output']} ({line['format']}), pages {line['pages']}")
        if line["timestamp"] == "skipped":
            print(_NO_TIMESTAMP)
    else:
        err = line["error"]
        print(f"失败 failed {line['input']}: [{err['code']}] {err['message_zh']} / {err['message_en']}")


def _digests(result: StampResult) -> dict[str, str]:
    """The SM3 of input and output when the stamper computed them on its pass (PDF), for the clerk's records."""
    pairs = (("sm3_before", result.doc_sm3_before), ("sm3_after", result.doc_sm3_after))
    return {k: v for k, v in pairs if v}


_NO_TIMESTAMP = "时间戳服务无法连接，本次盖章未加时间戳 / the TSA could not be reached: no timestamp"


def _print_single(args: argparse.Namespace, dst: Path, result: StampResult, how: str) -> None:
    if args.json:
        print_json(
            {
                "output": str(dst),
                "format": result.format,
                "signatures": result.signature_ids,
                "pages": result.pages,
                "boxes": [list(b) for b in result.boxes],
                "timestamp": how,
                **_digests(result),
            }
        )
    else:
        print(f"stamped {dst} ({result.format}): {', '.join(result.signature_ids)} on pages {result.pages}")
        if how == "skipped":
            print(_NO_TIMESTAMP)
