"""`sealbridge verify` over many documents in one run: several FILEs, or folders searched recursively.

What is verified: every file named on the command line (an unreadable one or one that is not a PDF/OFD is
an error line), and every file under a named folder whose content says PDF or OFD (`%PDF-` in its first
KiB, or a ZIP holding OFD.xml — never the file name); the other files of a folder are reported as skipped
(pipes, devices and sockets without being opened). Folders are walked in name order; symbolic links to
folders are not followed.

Output, in the order of the inputs (whatever --jobs): one line per file, then a summary (text), or one
JSON object per line (--json, JSON Lines): {"file", "status": "verified"|"error"|"skipped", "exit_code",
"verdict" and "report" (report v2) | "error" | "note"}.

Exit code of the run: 2 if any file could not be verified (or nothing was found), else 1 if any document
is invalid, else 3 if any is indeterminate or carries no seal, else 0 (all valid).

The per-process work is done once: trust anchors and extra certificates are read once, the platform client
is made once per process (--jobs N: N worker processes, each verifying files passed to it by path).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli.common import read_document
from formats.errors import SealBridgeError
from formats.pdfhead import PDF_HEADER_WINDOW, is_pdf_head
from stamping.pinnedfile import open_regular_fd

_TEXT = {
    "zh": {
        "error": "错误",
        "skipped": "已跳过：不是 PDF 或 OFD 文档",
        "skipped_unread": "已跳过：不是普通文件（管道、设备或套接字），未读取",
        "summary": "共 {n} 份文档：有效 {0}，无效 {1}，无法确定 {3}，出错 {2}",
        "skipped_n": "；跳过其他文件 {s} 个",
        "none": "没有找到 PDF 或 OFD 文档",
    },
    "en": {
        "error": "error",
        "skipped": "skipped: not a PDF or OFD document",
        "skipped_unread": "skipped: not a regular file (a pipe, device or socket), not read",
        "summary": "{n} documents: {0} valid, {1} invalid, {3} indeterminate, {2} errors",
        "skipped_n": "; {s} other files skipped",
        "none": "no PDF or OFD document found",
    },
}


@dataclass(frozen=True)
class VerifySettings:
    """What every document of a run is verified with (picklable: handed to each worker process once)."""

    anchors: list[bytes]
    extra_certs: list[bytes]
    platform: str | None = None


@dataclass(frozen=True)
class Entry:
    path: str
    named: bool  # given on the command line (not found in a folder)
    skip: str | None = None  # why a file found in a folder is not verified


class WarmVerifier:
    """One process's verifier: the platform client made once and reused for every document."""

    def __init__(self, settings: VerifySettings) -> None:
        self.settings = settings
        self.lookup: Any = None
        if settings.platform:
            from agent.platform.sync_lookup import make_status_lookup

            self.lookup = make_status_lookup(settings.platform)

    def close(self) -> None:
        close = getattr(self.lookup, "close", None)
        if callable(close):
            close()
        self.lookup = None

    def verify(self, entry: Entry) -> dict[str, Any]:
        """The JSON line of one file; never raises."""
        line: dict[str, Any] = {"file": entry.path}
        try:
            return line | self._verify(entry)
        except SealBridgeError as err:
            if not entry.named and err.code == "DOC_UNSUPPORTED":  # found in a folder: e.g. a plain ZIP
                return line | {"status": "skipped", "note": err.to_dict()}
            return _error_line(entry, err)
        except RecursionError:
            return _error_line(
                entry, SealBridgeError("DOC_MALFORMED", "the input nests objects too deeply to read")
            )
        except Exception as exc:  # a bug met by one document must not stop the others
            return _error_line(entry, SealBridgeError("INTERNAL", type(exc).__name__))

    def _verify(self, entry: Entry) -> dict[str, Any]:
        from agent.cli.common import about_file
        from stamping.documents import document_format
        from stamping.options import VerifyOptions

        data = read_document(entry.path)
        with about_file(entry.path):
            doc_format = document_format(data)
            options = VerifyOptions(
                trust_anchors=self.settings.anchors,
                extra_certs=self.settings.extra_certs,
                status_lookup=self.lookup,
                document_name=Path(entry.path).name,
            )
            report = doc_format.verify(data, options)
        if self.settings.platform:
            pinned = list(getattr(getattr(self.lookup, "client", None), "trusted_fingerprints", []) or [])
            report.policy["platform"] = {
                "url": self.settings.platform,
                "certificate_sha256": pinned[0] if pinned else None,
            }
        out = report.to_dict()
        return {"status": "verified", "verdict": out["verdict"], "exit_code": report.exit_code, "report": out}


#: Why a file found in a folder is skipped.
_NOT_A_DOCUMENT = "neither PDF nor OFD (checked by content)"
_NOT_A_REGULAR_FILE = "not a regular file (a pipe, device or socket): not read"


def why_skipped(path: Path) -> str | None:
    """Why a file found in a folder is not verified, or None when it is: a PDF or ZIP (an OFD is one) by
    its first bytes (the worker's full sniff settles ZIPs). A pipe, device or socket is never opened: a
    pipe nobody writes to would hold the whole run, and opening some devices does something."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return _NOT_A_REGULAR_FILE
        # In case a pipe took the file's place since: then it is refused, not waited on.
        fd, _ = open_regular_fd(path)
    except SealBridgeError:
        return _NOT_A_REGULAR_FILE
    except OSError:
        return None  # unreadable: verified, so the line says why
    try:
        head = os.read(fd, PDF_HEADER_WINDOW)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if is_pdf_head(head) or head[:4] == b"PK\x03\x04" else _NOT_A_DOCUMENT


def entries(inputs: list[str]) -> Iterator[Entry]:
    for spec in inputs:
        path = Path(spec)
        if not path.is_dir():
            yield Entry(spec, named=True)
            continue
        for found in files_under(path):
            if found.is_symlink() and not found.exists():
                continue  # a dangling link is no document
            yield Entry(str(found), named=False, skip=why_skipped(found))


def files_under(top: Path) -> Iterator[Path]:
    """The files under `top` as os.walk lists them, top-down in name order: a folder's files, then each of
    its subfolders in turn; links to folders are not followed and a folder that cannot be read is passed
    over. But without recursion (os.walk recurses once per level in Python 3.11), so that folders nested a
    thousand deep are walked like any other instead of ending the run."""
    folders = [os.fspath(top)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                found = list(listing)
        except OSError:
            continue
        files, subfolders = [], []
        for entry in found:
            try:
                is_folder = entry.is_dir()  # through a link, as os.walk sorts them
            except OSError:
                is_folder = False
            (subfolders if is_folder else files).append(entry)
        for entry in sorted(files, key=lambda e: e.name):
            yield Path(entry.path)
        # The stack takes them last first, so the first in name order is walked next.
        for entry in sorted(subfolders, key=lambda e: e.name, reverse=True):
            if not entry.is_symlink():
                folders.append(entry.path)


@dataclass(frozen=True)
class Output:
    """How lines are written (the same in every process)."""

    as_json: bool
    lang: str


@dataclass(frozen=True)
class Done:
    """One file's outcome, its line already rendered where it was verified (a worker hands back text,
    not the whole report to pickle and serialise again in the parent)."""

    status: str
    exit_code: int | None
    text: str


def render(line: dict[str, Any], output: Output) -> Done:
    if output.as_json:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = human_line(line, output.lang)
    return Done(line["status"], line.get("exit_code"), text)


# The worker process's verifier (--jobs N), made by _start_worker once per process.
_WORKER: tuple[WarmVerifier, Output] | None = None


def _start_worker(settings: VerifySettings, output: Output) -> None:
    global _WORKER
    from multiprocessing.util import Finalize

    verifier = WarmVerifier(settings)
    _WORKER = (verifier, output)
    Finalize(verifier, verifier.close, exitpriority=10)  # the platform client's session, at worker exit


def _verify_in_worker(entry: Entry) -> Done:
    assert _WORKER is not None
    verifier, output = _WORKER
    return render(verifier.verify(entry), output)


def results(todo: list[Entry], settings: VerifySettings, jobs: int, output: Output) -> Iterator[Done]:
    """The outcomes of `todo`, in its order."""
    wanted = [e for e in todo if not e.skip]
    if jobs <= 1 or len(wanted) <= 1:
        verifier = WarmVerifier(settings)
        try:
            done = (render(verifier.verify(e), output) for e in wanted)
            yield from _merge(todo, done, output)
        finally:
            verifier.close()
        return
    from stamping.documents import preload_verifiers

    preload_verifiers()  # imported once here: forked workers start with the verifiers loaded
    yield from _merge(todo, _pooled(wanted, settings, min(jobs, len(wanted)), output), output)


def _pooled(wanted: list[Entry], settings: VerifySettings, jobs: int, output: Output) -> Iterator[Done]:
    """The outcomes of `wanted`, in order, from `jobs` worker processes.

    A worker that dies (the kernel's out-of-memory killer, a crash in a C library) breaks its pool, and
    every document not yet answered with it. The first of those is then verified alone in a fresh worker:
    if that one dies too, the document gets an error line (exit code 2); either way a new pool takes the
    rest. Each break costs one document at most, never the run."""
    remaining = wanted
    while remaining:
        answered = 0
        chunk = max(1, min(16, len(remaining) // (jobs * 8)))
        try:
            with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(settings, output)) as pool:
                try:
                    for done in pool.map(_verify_in_worker, remaining, chunksize=chunk):
                        yield done
                        answered += 1
                except GeneratorExit:  # the run ends early (its output closed): the rest is not wanted
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            return
        except BrokenProcessPool:
            suspect, remaining = remaining[answered], remaining[answered + 1 :]
        yield _alone(suspect, settings, output)


def _error_line(entry: Entry, err: SealBridgeError) -> dict[str, Any]:
    """The JSON line of a file that could not be verified (exit code 2)."""
    return {"file": entry.path, "status": "error", "exit_code": 2, "error": err.to_dict()}


def _alone(entry: Entry, settings: VerifySettings, output: Output) -> Done:
    """One document in a worker of its own: its outcome, or an error line if the worker dies."""
    try:
        with ProcessPoolExecutor(1, initializer=_start_worker, initargs=(settings, output)) as pool:
            return pool.submit(_verify_in_worker, entry).result()
    except BrokenProcessPool:
        err = SealBridgeError(
            "INTERNAL", "the process verifying this document ended abruptly (out of memory?)"
        )
        return render(_error_line(entry, err), output)


def _merge(todo: list[Entry], done: Iterator[Done], output: Output) -> Iterator[Done]:
    for entry in todo:
        if entry.skip:
            note = SealBridgeError("DOC_UNSUPPORTED", entry.skip)
            yield render({"file": entry.path, "status": "skipped", "note": note.to_dict()}, output)
        else:
            yield next(done)


def batch_exit_code(codes: list[int]) -> int:
    """2 (an error) before 1 (invalid) before 3 (indeterminate) before 0 (all valid); nothing verified: 2."""
    for code in (2, 1, 3):
        if code in codes:
            return code
    return 0 if codes else 2


def run_batch(inputs: list[str], settings: VerifySettings, jobs: int, as_json: bool, lang: str) -> int:
    text = _TEXT[lang]
    codes: list[int] = []
    skipped = 0
    out = sys.stdout
    for done in results(list(entries(inputs)), settings, jobs, Output(as_json, lang)):
        if done.exit_code is None:
            skipped += 1
        else:
            codes.append(done.exit_code)
        out.write(done.text + "\n")
        out.flush()
    if not codes:
        err = SealBridgeError("BAD_REQUEST", text["none"])
        if as_json:
            out.write(json.dumps({"error": err.to_dict()}, ensure_ascii=False) + "\n")
        else:
            sys.stderr.write(f"{text['error']} [{err.code}] {text['none']}\n")
        return 2
    if not as_json:
        counts = {k: codes.count(k) for k in (0, 1, 2, 3)}
        summary = text["summary"].format(counts[0], counts[1], counts[2], counts[3], n=len(codes))
        out.write(summary + (text["skipped_n"].format(s=skipped) if skipped else "") + "\n")
    return batch_exit_code(codes)


def human_line(line: dict[str, Any], lang: str) -> str:
    c = "：" if lang == "zh" else ": "
    path = line["file"]
    if line["status"] == "verified":
        from stamping.messages import render_reason

        return f"{path}{c}{render_reason(line['report']['headline'], lang)}"  # type: ignore[arg-type]
    if line["status"] == "skipped":
        unread = line["note"].get("detail") == _NOT_A_REGULAR_FILE
        return f"{path}{c}{_TEXT[lang]['skipped_unread' if unread else 'skipped']}"
    err = line["error"]  # its technical detail (English, often the path again) stays in the JSON
    message = err["message_zh"] if lang == "zh" else err["message_en"]
    return f"{path}{c}{_TEXT[lang]['error']} [{err['code']}] {message}"
