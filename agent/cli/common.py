"""Shared CLI plumbing: `--json` output and error rendering (exit 2, error object on stdout)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError
from stamping.documents import MAX_DOCUMENT_BYTES

EXIT_ERROR = 2


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def report_error(err: SealBridgeError, as_json: bool) -> int:
    if as_json:
        print_json({"error": err.to_dict()})
    else:
        sys.stderr.write(f"错误 error [{err.code}] {err.message_zh} / {err.message_en}")
        sys.stderr.write(f": {err.detail}\n" if err.detail else "\n")
    return EXIT_ERROR


def command(func: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command so a SealBridgeError becomes exit 2 with the error printed (JSON with --json)."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except SealBridgeError as err:
            return report_error(err, getattr(args, "json", False))
        except RecursionError:  # a structure nested deeper than the stack, in any parser a command uses
            err = SealBridgeError("DOC_MALFORMED", "the input nests objects too deeply to read")
            return report_error(err, getattr(args, "json", False))

    return wrapper


def read_secret_file(path: str | Path) -> str:
    """Read a PIN or password file: the first line, without its line ending. Never echoed or logged."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read secret file {path}: {exc.strerror}") from None
    return raw.splitlines()[0] if raw else ""


def read_document(path: str | Path) -> bytes:
    """A document file, refused before reading when it is over the document limit."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SealBridgeError("DOC_TOO_LARGE", f"{p} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
        return p.read_bytes()
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {p}: {exc.strerror}") from None
