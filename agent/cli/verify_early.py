"""`sealbridge verify FILE` of a large PDF: its child reader and hasher forked before the command loads.

What a process does before it forks its document pass (stamping.pdf.sigdigest.ForkedDocumentPass) runs on
one core; what it does after, on two. The program's own start-up (argparse, the command's modules, their
logging, json and dataclasses: 25-35 ms) need not come first: sealbridge.cli calls start() with the raw
arguments before anything else, and when they name one file that is a large PDF, the child that hashes it
is forked there and then: the file mapped under a read lease (agent.cli.mappeddoc), where the system allows
one, or else read by that child into memory it shares with this process (agent.cli.sharedread).

This only guesses from the raw arguments (argparse decides later, and may even reject them). The verify
command claims the pass with claim(): only for the file it was given in the end, and only if that path
still names the file that was opened; otherwise the child is ended and the document read as usual. So a
wrong guess costs a little time, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.cli.mappeddoc import MappedDocument
    from agent.cli.sharedread import SharedRead
    from stamping.pdf.sigdigest import ForkedDocumentPass

    Document = MappedDocument | SharedRead

#: From this size on (a 50 MB file's read takes 30-45 ms; an 8 MiB one's, the fork's few ms).
SHARED_FROM = 8 << 20
#: verify's options that take a value (the next argument, unless given as --option=value).
_VALUED = ("--trust", "--cert", "--platform", "--lang", "--evidence", "--jobs")

_started: tuple[str, tuple[int, int], Document, ForkedDocumentPass] | None = None


def start(argv: list[str]) -> None:
    """For `verify` with one large PDF among `argv` (the arguments after the program's name): its child
    forked now. Nothing happens otherwise, nor on any failure: the command then does it all as usual."""
    global _started
    if _started is not None or len(argv) < 2 or argv[0] != "verify" or sys.platform != "linux":
        return
    path = _the_one_file(argv[1:])
    if path is None:
        return
    with contextlib.suppress(Exception):  # a guess: the command reports whatever went wrong itself
        opened = open_pdf_pass(path)
        if opened is not None:
            identity, shared, document_pass = opened
            _started = (path, identity, shared, document_pass)


def claim(path: str) -> tuple[Document, ForkedDocumentPass] | None:
    """The pass start() began, if it is for `path` and that path still names the file it read; None
    otherwise (a pass begun for another file is ended)."""
    global _started
    started, _started = _started, None
    if started is None:
        return None
    began_for, identity, shared, document_pass = started
    try:
        same = began_for == path and _identity(os.stat(path)) == identity
    except OSError:
        same = False
    if same:
        return shared, document_pass
    shared.abandon()
    document_pass.cancel()
    return None


def open_pdf_pass(
    path: str, size: int | None = None
) -> tuple[tuple[int, int], Document, ForkedDocumentPass] | None:
    """The file at `path`, if it is a PDF of at least SHARED_FROM bytes (and, when given, `size`, which the
    caller checked against the document limit; otherwise checked here): (its device and inode, the
    document (mapped, or a shared buffer), the pass forked to hash it (and fill the buffer first)); None
    when it is not, or cannot be."""
    import stat

    from formats.limits import MAX_DOCUMENT_BYTES
    from formats.pdfhead import PDF_HEADER_WINDOW, is_pdf_head

    try:
        # Not blocking: a pipe with no writer would otherwise hold the program before it even parses its
        # arguments (the command then refuses what is not a regular file).
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (size is not None and info.st_size != size):
            return None
        os.set_blocking(fd, True)  # what the file's readers expect (for a regular file it changes nothing)
        if not SHARED_FROM <= info.st_size <= MAX_DOCUMENT_BYTES:
            return None  # a small file: nothing more is loaded for it here
        if not is_pdf_head(os.pread(fd, PDF_HEADER_WINDOW, 0)):
            return None
        from agent.cli.mappeddoc import MappedDocument
        from agent.cli.sharedread import SharedRead
        from stamping.pdf.sigdigest import ForkedDocumentPass

        if not ForkedDocumentPass.can_fork():
            return None
        shared = MappedDocument.open(fd, info.st_size) or SharedRead.prepare(fd, info.st_size)
        if shared is None:
            return None
        try:
            document_pass = ForkedDocumentPass.start(shared.data, fill=shared.fill)
        except BaseException:
            shared.abandon()  # a mapped file's lease, which would hold back writers for nothing
            raise
        if document_pass is None:
            shared.abandon()
            return None
        shared.forked()
        return _identity(info), shared, document_pass
    except (OSError, MemoryError):  # no pipe, no process, no memory for the buffer: read_document decides
        return None
    finally:
        os.close(fd)  # the child has its own


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _the_one_file(args: list[str]) -> str | None:
    """The one positional argument of verify's `args`, as argparse would most likely see it; None when
    there are several, none, or anything this does not follow (help, an abbreviated option...)."""
    files: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            files.extend(args[i + 1 :])
            break
        if arg.startswith("-") and arg != "-":
            name = arg.split("=", 1)[0]
            if name in _VALUED:
                i += 1 if "=" in arg else 2
                continue
            if name != "--json":
                return None  # help, or an option this list does not know (an abbreviation?)
            i += 1
            continue
        files.append(arg)
        i += 1
    return files[0] if len(files) == 1 else None
