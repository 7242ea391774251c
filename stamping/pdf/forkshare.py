"""Share a list of CPU-bound Python tasks with a forked helper process, for a one-shot command.

Checking the signatures of a PDF is Python work (pyHanko's difference analysis, the CMS and chain checks):
one thread, whatever the cores. A process that exists only to verify one document (`sealbridge verify`)
can fork once the document is parsed and let the child check some of the signatures while it checks the
others; the child sends its results back pickled and exits. Forked, the child starts with everything the
parent parsed, so nothing is read or imported twice.

Only where that is safe: POSIX fork, and no other thread running (a forked child keeps only the thread
that forked; a lock another thread held would stay locked in it). If the helper cannot start, fails, or
its results do not come back whole, this process does the helper's share itself: the results are the
same either way, only the time differs.

start_child() and child_result() are the fork and the pipe on their own, for a child that computes one
thing while this process goes on (the document pass of stamping.pdf.sigdigest.ForkedDocumentPass).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from stamping.orphans import end_with_parent

T = TypeVar("T")

#: How the last share_with_helper() went, for tests and diagnostics: "helped", "alone" or "helper failed".
last_run = "alone"


def can_fork() -> bool:
    if not hasattr(os, "fork"):
        return False
    # threading is not imported for this (a large PDF's `sealbridge verify` forks before it is loaded):
    # until it is, a thread can only have been started through _thread (whose count shows it only once it
    # runs) or from C, which Linux's list of the process's tasks shows at once.
    threading = sys.modules.get("threading")
    if threading is not None:
        return threading.active_count() == 1
    return _thread._count() == 0 and _tasks() in (1, None)


def _tasks() -> int | None:
    """How many threads this process has, on Linux (None elsewhere)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def start_child(work: Callable[[], object]) -> tuple[int, int] | None:
    """Fork a child that sends work()'s result, pickled, down a pipe and exits without any clean-up of
    this process's; (its pid, the pipe's read end), or None when no child can be started (the system's
    process or memory limits: the caller then does the work itself). Only where can_fork() says so."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # nothing buffered is written twice
    parent = os.getpid()
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        code = 1
        try:
            with contextlib.suppress(OSError):  # no request, no harm: every wait for a child has a limit
                end_with_parent(parent)  # work for a process that is gone is never worth finishing
            os.close(read_end)
            _detach_standard_streams()
            result = work()
            import pickle  # once the work is done: the child's first job is the work

            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _detach_standard_streams() -> None:
    """The child writes nothing to the terminal or the pipes it inherited: a reader of this process's
    output (`sealbridge verify ... | jq`) must see its end when this process ends, not when a child does."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def child_result(pid: int, read_end: int, timeout: float | None = None) -> object | None:
    """What start_child()'s child sent (waiting for it, at most `timeout` seconds if given: a child still
    running then is killed), or None if it failed, sent nothing whole or took too long."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pieces: list[bytes] = []
    finished = False
    try:
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    break
            piece = os.read(read_end, 1 << 20)
            if not piece:
                finished = True
                break
            pieces.append(piece)
    except OSError:
        pass
    finally:
        os.close(read_end)
        if not finished:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        status: int | None = None
        with contextlib.suppress(ChildProcessError):  # reaped already where SIGCHLD is ignored
            _, status = os.waitpid(pid, 0)
    if not finished or (status is not None and os.waitstatus_to_exitcode(status) != 0):
        return None  # (exit status unknown: a payload that unpickles whole was written by a child that succeeded)
    try:
        import pickle

        return pickle.loads(b"".join(pieces))  # noqa: S301 - written by our own forked child, never by the document
    except Exception:  # noqa: BLE001 - a truncated payload
        return None


def share_with_helper(task: Callable[[int], T], mine: Sequence[int], helpers: Sequence[int]) -> dict[int, T]:
    """{i: task(i)} for every i of `mine` (here) and `helpers` (in a forked child when possible)."""
    global last_run
    if not helpers or not can_fork():
        last_run = "alone"
        return {i: task(i) for i in (*mine, *helpers)}
    child = start_child(lambda: {i: task(i) for i in helpers})
    if child is None:  # no process could be started: this one does the helper's share too
        last_run = "helper failed"
        return {i: task(i) for i in (*mine, *helpers)}
    pid, read_end = child
    started = time.monotonic()
    try:
        results = {i: task(i) for i in mine}
    except BaseException:  # this process failed (or was interrupted) first: the helper is not needed any more
        child_result(pid, read_end, timeout=0)  # closes, kills and reaps
        raise
    # The helper's share weighs about what this process's did: far longer than that, it is stuck, and
    # this process does its share instead.
    theirs = child_result(pid, read_end, timeout=60 + 10 * (time.monotonic() - started))
    if not isinstance(theirs, dict) or set(theirs) != set(helpers):
        last_run = "helper failed"
        theirs = {i: task(i) for i in helpers}
    else:
        last_run = "helped"
    return {**results, **theirs}
