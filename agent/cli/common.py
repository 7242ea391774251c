"""Shared CLI plumbing: `--json` output and error rendering (exit 2, error object on stdout)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError
from formats.limits import MAX_DOCUMENT_BYTES
from stamping.pinnedfile import require_regular_file

EXIT_ERROR = 2
#: Stopped by Ctrl-C (SIGINT): 128 + 2, as shells report it.
EXIT_INTERRUPTED = 130
#: What a command stopped by Ctrl-C writes on stderr, instead of a traceback.
INTERRUPTED_LINE = "\n已中断 interrupted\n"
#: Whoever read the output stopped reading (`| head`, `| true`): 128 + SIGPIPE, as shells report a program
#: that pipe ended.
EXIT_OUTPUT_CLOSED = 141


def output_closed() -> int:
    """Standard output's reader went away: what is still buffered, or written later, goes to the null device
    (the interpreter's last flush would otherwise report the pipe again at exit); EXIT_OUTPUT_CLOSED."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_OUTPUT_CLOSED


def quiet_libraries() -> None:
    """Libraries' log warnings and Python warnings are not the user's business on a command's stderr (each
    command reports what matters in its own words); SEALBRIDGE_DEBUG=1 shows them."""
    if os.environ.get("SEALBRIDGE_DEBUG"):
        return
    logging.getLogger().addHandler(logging.NullHandler())  # no "last resort" printing of library warnings
    warnings.filterwarnings("ignore")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def json_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n"


def print_json(obj: Any) -> None:
    sys.stdout.write(json_text(obj))


def report_error(err: SealBridgeError, as_json: bool) -> int:
    if as_json:
        print_json({"error": err.to_dict()})
    else:
        sys.stderr.write(f"错误 error [{err.code}] {err.message_zh} / {err.message_en}")
        sys.stderr.write(f": {err.detail}\n" if err.detail else "\n")
        left = (err.extra or {}).get("retries_left")
        if left is not None:
            sys.stderr.write(f"还可尝试 {left} 次 / {left} tries left before the PIN locks\n")
    return EXIT_ERROR


def command(func: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command so a SealBridgeError becomes exit 2 with the error printed (JSON with --json), Ctrl-C
    exit 130 with one line, and output whose reader went away exit 141 without a word."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(func(args) or 0)
        except SealBridgeError as err:
            return report_error(err, getattr(args, "json", False))
        except RecursionError:  # a structure nested deeper than the stack, in any parser a command uses
            err = SealBridgeError("DOC_MALFORMED", "the input nests objects too deeply to read")
            return report_error(err, getattr(args, "json", False))
        except BrokenPipeError:  # `sealbridge verify DIR | head`: the reader has all it wants
            return output_closed()
        except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback; the shell's code for it
            sys.stderr.write(INTERRUPTED_LINE)
            return EXIT_INTERRUPTED
        except Terminated as ended:  # SIGTERM or SIGHUP inside ended_by_signals(): cleaned up like Ctrl-C
            sys.stderr.write("\n已终止 terminated\n")
            return 128 + ended.signum

    return wrapper


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP while ended_by_signals() is in force."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def ended_by_signals() -> Iterator[None]:
    """While a command writes its output: SIGTERM and SIGHUP (a closed terminal, `kill`, a service
    stopping) end it the way Ctrl-C does, so the temp file an atomic output writes into is removed and
    nothing partial stays beside the target. Only from the main thread, and only where the signal still
    has its default action (a caller that handles it keeps its own)."""
    import signal

    from stamping.signalswap import handlers_swapped

    def choose(_signum: int, current: Any) -> Any:
        return _raise_terminated if current is signal.SIG_DFL else None

    with handlers_swapped(("SIGTERM", "SIGHUP"), choose):
        yield


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


#: The most a PIN or password file is read to.
SECRET_FILE_BYTES = 64 * 1024


def read_secret_file(path: str | Path) -> str:
    """Read a PIN or password file: the first line, without its line ending (and without the byte-order mark
    Windows Notepad writes). Only the first line need be UTF-8, and it must end within SECRET_FILE_BYTES
    (`<(yes 123456)` is a PIN file too). Never echoed or logged, not even in an error."""
    try:
        with open(path, "rb") as f:
            head = f.read(SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read secret file {path}: {exc.strerror}") from None
    first = head.split(b"\n", 1)[0]
    if len(first) > SECRET_FILE_BYTES:
        raise SealBridgeError(
            "BAD_REQUEST", f"secret file {path}: no line end in its first {SECRET_FILE_BYTES} bytes"
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SealBridgeError("BAD_REQUEST", f"secret file {path} is not UTF-8 text") from None
    return text.splitlines()[0] if text else ""


def document_size(path: str | Path) -> int:
    """The size of a document file, refused when it is not a usable document file; errors name the file
    (FILE_NOT_FOUND, BAD_REQUEST for a folder or anything else that is not a regular file, DOC_EMPTY,
    DOC_TOO_LARGE)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise SealBridgeError("BAD_REQUEST", f"{p} is a folder, not a document")
        found = p.stat()
    except FileNotFoundError:
        raise SealBridgeError("FILE_NOT_FOUND", str(p)) from None
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {p}: {exc.strerror}") from None
    require_regular_file(p, found.st_mode)  # before anything opens it
    size = found.st_size
    if size > MAX_DOCUMENT_BYTES:
        raise SealBridgeError("DOC_TOO_LARGE", f"{p} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
    if not size:
        raise SealBridgeError("DOC_EMPTY", str(p))
    return size


def read_document(path: str | Path) -> bytes:
    """A document file, refused before reading when it is over the document limit (see document_size)."""
    from agent.cli.wholefile import read_whole

    p = Path(path)
    size = document_size(p)
    try:
        data = read_whole(p, size, most=MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise SealBridgeError("FILE_NOT_FOUND", str(p)) from None
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {p}: {exc.strerror}") from None
    if not data:
        raise SealBridgeError("DOC_EMPTY", str(p))
    if len(data) > MAX_DOCUMENT_BYTES:  # it grew past the limit after its size was checked (read no further)
        raise SealBridgeError(
            "DOC_TOO_LARGE",
            f"{p} grew past {MAX_DOCUMENT_BYTES} bytes while read; the limit is {MAX_DOCUMENT_BYTES}",
        )
    return data


@contextmanager
def about_file(path: str | Path) -> Iterator[None]:
    """A document error raised inside names the file it is about (the clerk may have given several)."""
    try:
        yield
    except SealBridgeError as err:
        if err.code.startswith("DOC_") and str(path) not in (err.detail or ""):
            raise SealBridgeError(err.code, f"{path}: {err.detail or err.message_en}", err.extra) from None
        raise
