"""`sealbridge verify` — check every seal and signature of a PDF or OFD and print the shared report.

Exit codes: 0 valid, 1 invalid, 3 indeterminate or no seals, 2 error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cli.collector import collector_paused_then_frozen
from agent.cli.common import (
    about_file,
    add_json_flag,
    command,
    document_size,
    json_text,
    output_closed,
    print_json,
    read_document,
)
from formats.errors import SealBridgeError
from formats.pdfhead import is_pdf_head

if TYPE_CHECKING:  # the verifier's modules load when a document is verified, not to parse arguments
    from agent.cli.verify_early import Document
    from stamping.messages import Lang
    from stamping.pdf.sigdigest import ForkedDocumentPass
    from stamping.platform_status import StatusLookup
    from stamping.report import Report

_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
#: Below this, hashing takes less than starting threads is worth (stamping.ofd.entrypass.THREADS_FROM).
_HASH_WHILE_LOADING_FROM = 4 << 20
#: Who read the last document verified alone, for tests and diagnostics: a large PDF "mapped" (under a read
#: lease, agent.cli.mappeddoc; "read again" here when a writer came meanwhile) or read "by the child"
#: (agent.cli.sharedread); any other, "here".
last_read = "here"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="verify the seals and signatures of a PDF or OFD document")
    p.add_argument(
        "file",
        metavar="FILE",
        nargs="+",
        help="a PDF or OFD document; several, or folders (searched recursively, documents recognised by "
        "content), verify each in one run: a line per file and a summary, JSON Lines with --json",
    )
    p.add_argument(
        "--trust", action="append", default=[], metavar="DIR_OR_PEM", help="trust anchors (repeatable)"
    )
    p.add_argument("--cert", action="append", default=[], metavar="CERT",
                   help="extra certificate, e.g. for a bare signature that carries none (repeatable)")  # fmt: skip
    p.add_argument("--platform", metavar="URL", help="central platform for the seals' status")
    p.add_argument(
        "--lang",
        choices=("zh", "en"),
        default=None,
        help="language of the human-readable report (default: from the locale, LANG/LC_ALL)",
    )
    p.add_argument(
        "--evidence",
        metavar="OUT.pdf",
        help="also write the evidence report (PDF: cover, every check in zh/en, sealed pages, JSON attached)",
    )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="several documents: verify with N worker processes (output stays in the order of the inputs)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_verify)


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, at least 1, not {text!r}")
    return n


def load_cert_files(spec: str, *, anchors: bool = False) -> list[bytes]:
    """The certificates of a file, or of the .pem/.crt/.cer/.der files of a folder. For trust anchors
    (`anchors`) an unusable file is TRUST_ANCHOR_INVALID naming the file and why."""
    from formats.gm.keys import load_certificates
    from stamping.smallfile import read_small_file

    path = Path(spec)
    if not path.exists():
        raise SealBridgeError("FILE_NOT_FOUND", str(path))
    files = (
        # regular files only: a pipe named *.pem among them would otherwise hold the command for ever
        sorted(f for f in path.iterdir() if f.suffix.lower() in _CERT_SUFFIXES and f.is_file())
        if path.is_dir()
        else [path]
    )
    if anchors and not files:
        raise SealBridgeError("TRUST_ANCHOR_INVALID", f"{path}: no .pem/.crt/.cer/.der file in this folder")
    out: list[bytes] = []
    for f in files:
        try:
            data = read_small_file(f)
        except OSError as exc:
            raise SealBridgeError("BAD_REQUEST", f"cannot read {f}: {exc.strerror}") from None
        try:
            certs = load_certificates(data)
        except SealBridgeError as err:
            if not anchors:
                raise
            why = _not_a_certificate(data) or err.detail or err.message_en
            raise SealBridgeError("TRUST_ANCHOR_INVALID", f"{f}: {why}") from None
        if anchors and not certs:
            raise SealBridgeError("TRUST_ANCHOR_INVALID", f"{f}: no certificate in it")
        out.extend(c.dump() for c in certs)
    return out


def _not_a_certificate(data: bytes) -> str | None:
    """What a file given as a certificate is instead, when it is plainly something else."""
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "it is a PDF document, not a certificate"
    if data[:4] == b"PK\x03\x04":
        return "it is a zip package (an OFD document?), not a certificate"
    if not data:
        return "the file is empty"
    return None


def _status_lookup(url: str) -> StatusLookup:
    from agent.platform import make_status_lookup

    return make_status_lookup(url)


def locale_language(environ: Mapping[str, str] | None = None) -> Lang:
    """zh when the locale says Chinese (LC_ALL, LC_MESSAGES, LANG, LANGUAGE in POSIX order), else en."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def _print_text(report: Report, path: str, lang: Lang) -> None:
    from stamping.reporttext import report_lines

    for line in report_lines(report.to_dict(), lang, path):
        print(line)


@command
def cmd_verify(args: argparse.Namespace) -> int:
    if len(args.file) > 1 or Path(args.file[0]).is_dir():
        return _verify_many(args)
    args.file = args.file[0]
    code = _verify_document(args)
    try:
        sys.stdout.flush()  # here, where Ctrl-C while a reader keeps the pipe full is one line and exit 130
    except BrokenPipeError:
        return output_closed()
    except OSError:
        return code
    # The report is written and every child reaped: the process may end without the interpreter's tear-down.
    args.nothing_to_tear_down = True
    return code


def _hash_while_loading(data: bytes) -> Callable[[], tuple[str, str]] | None:
    """A document of some size: its SM3 and SHA-256 start now, on threads, while the verifier loads (for a
    PDF, the pass every signature's byte range digest comes from too)."""
    if len(data) < _HASH_WHILE_LOADING_FROM:
        return None
    if data[:4] == b"PK\x03\x04":
        from stamping.docdigests import document_digests_later

        return document_digests_later(data)
    if is_pdf_head(data):
        from stamping.pdf.sigdigest import start_pass

        # A child process where one can be forked: it leaves this process its GIL and a helper its fork.
        return start_pass(data)
    return None


def _verify_document(args: argparse.Namespace) -> int:
    # The process checks this one document and ends: the collector's passes over what the imports and
    # the verification make (objects by the hundred thousand, little garbage) would only delay the answer,
    # and what is frozen at the end is not scanned by the last pass at exit either.
    global last_read
    read_here = "here"
    with collector_paused_then_frozen():
        early = _pdf_read_by_child(args.file)
        if early is not None:
            shared, document_pass = early
            from agent.cli.pyhanko_import import import_lean

            import_lean("stamping.pdf.verify")  # while the child reads the file
            data = shared.take(timeout=30.0 + len(shared.data) / 10e6)
            if data is None:
                document_pass.cancel()
            else:
                last_read = shared.read_by
                try:
                    return _verify_read_document(args, data, document_pass, shared.unchanged)
                except _ChangedMeanwhile:
                    # A writer came while the mapped file was verified: what it verified may not be the file
                    # any more. Let go of it (the writer goes on) and verify what a read of it gives now.
                    shared.abandon()
                    read_here = "read again"
        last_read = read_here
        data = read_document(args.file)
        return _verify_read_document(args, data, _hash_while_loading(data))


class _ChangedMeanwhile(Exception):
    """The mapped document's lease was being broken by the time its report was ready."""


def _pdf_read_by_child(path: str) -> tuple[Document, ForkedDocumentPass] | None:
    """A large PDF, mapped (agent.cli.mappeddoc) or read by a child into memory shared with this process
    (agent.cli.sharedread), and the child that hashes it, forked at the program's start
    (agent.cli.verify_early) or now; None where that cannot be (the file is then read here, as any other)."""
    from agent.cli import verify_early

    claimed = verify_early.claim(path)
    if claimed is not None:
        return claimed
    size = document_size(path)  # refused here, with its code, when over the limit, empty or missing
    if sys.platform != "linux":
        return None
    opened = verify_early.open_pdf_pass(path, size)
    return None if opened is None else opened[1:]


def _verify_read_document(
    args: argparse.Namespace,
    data: bytes,
    digests_later: Callable[[], tuple[str, str]] | None,
    unchanged: Callable[[], bool] | None = None,
) -> int:
    """Verify `data`, read from args.file, and write the report (and evidence); its exit code. With
    `unchanged`, the report is written only if it still says the file is as verified (else
    _ChangedMeanwhile)."""
    from stamping.documents import document_format
    from stamping.options import VerifyOptions

    with about_file(args.file):
        doc_format = document_format(data)
    if doc_format.name == "pdf":
        from agent.cli.pyhanko_import import import_lean

        import_lean("stamping.pdf.verify")  # without pyHanko's signer and HTTP clients
    else:
        from agent.cli.dataclass_code import cached

        with cached():
            importlib.import_module(f"stamping.{doc_format.name}.verify")
    anchors, extra = _certificates(args)
    lookup = _status_lookup(args.platform) if args.platform else None  # closed below, whatever happens
    client = getattr(lookup, "client", None)
    options = VerifyOptions(
        trust_anchors=anchors,
        extra_certs=extra,
        status_lookup=lookup,
        document_name=Path(args.file).name,
        document_digests_later=digests_later,
        fork_helper=True,  # this process verifies this one document
    )
    validated_at = datetime.now(UTC)
    try:
        with about_file(args.file):
            report = doc_format.verify(data, options)
        if args.platform:
            # After verifying: a platform certificate pinned on first use is known only now.
            pinned = list(getattr(client, "trusted_fingerprints", []) or [])
            report.policy["platform"] = {
                "url": args.platform,
                "certificate_sha256": pinned[0] if pinned else None,
            }
    finally:
        close = getattr(lookup, "close", None)
        if callable(close):
            close()  # the platform client's HTTP session and thread, so nothing complains at exit
    if unchanged is not None and not unchanged():
        raise _ChangedMeanwhile
    if args.evidence:
        _write_evidence(args, data, report, anchors, validated_at)
    if args.json:
        print_json(report.to_dict())
    else:
        _print_text(report, args.file, args.lang or locale_language())
    return report.exit_code


def _certificates(args: argparse.Namespace) -> tuple[list[bytes], list[bytes]]:
    """(trust anchors, extra certificates) from --trust, --platform and --cert."""
    anchors = [c for spec in args.trust for c in load_cert_files(spec, anchors=True)]
    if args.platform:
        from agent.tsa_client import platform_roots

        try:
            anchors += platform_roots(args.platform)  # the platform's TSA chains to these
        except SealBridgeError:
            pass  # platform down: its timestamps verify but stay untrusted, and platform_status says why
    return anchors, [c for spec in args.cert for c in load_cert_files(spec)]


def _verify_many(args: argparse.Namespace) -> int:
    from agent.cli.verify_batch import VerifySettings, run_batch

    if args.evidence:
        raise SealBridgeError("BAD_REQUEST", "--evidence takes one document, not several or a folder")
    anchors, extra = _certificates(args)
    settings = VerifySettings(anchors=anchors, extra_certs=extra, platform=args.platform)
    return run_batch(args.file, settings, args.jobs, args.json, args.lang or locale_language())


def _write_evidence(
    args: argparse.Namespace, data: bytes, report: Report, anchors: list[bytes], validated_at: datetime
) -> None:
    from stamping.evidence.build import EvidenceInput, build_evidence
    from stamping.fileout import atomic_write

    pdf = build_evidence(
        EvidenceInput(
            document_name=Path(args.file).name,
            data=data,
            report=report,
            report_json=json_text(report.to_dict()).encode("utf-8"),
            validated_at=validated_at,
            trust_anchors=anchors,
            platform_url=args.platform,
        )
    )
    atomic_write(Path(args.evidence), pdf, 0o644)
