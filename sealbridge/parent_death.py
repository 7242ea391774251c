"""Dying with the parent: a child the demo starts ends when the demo ends, however the demo ends.

The demo stops its children itself on every exit it sees (Ctrl-C, SIGTERM, SIGHUP, an error, atexit), but a
SIGKILLed demo runs no code at all. On Linux the child therefore asks the kernel, as its first act, for a
SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG). The parent tells it which pid that is in
SEALBRIDGE_EXIT_WITH_PARENT; the child sets the signal (stamping.orphans) and then checks getppid(): if the parent died in
between, it was already re-parented and no signal would ever come, so it leaves at once.

The request is made in the child after exec (not with preexec_fn, which is unsafe with threads), and it is
consumed there: processes the child starts in turn do not inherit it.

Linux sends the signal when the *thread* that started the child ends, not the process; the demo therefore
starts its long-lived children from its main thread (see sealbridge.demo.processes).

Other systems (Windows, macOS) have no such request: there the variable is never set and a SIGKILLed demo
(or one ended from the Task Manager) leaves its children running, as before; its clean stops still stop them.
"""

from __future__ import annotations

import os
import sys

from stamping.orphans import end_with_parent, supported

ENV = "SEALBRIDGE_EXIT_WITH_PARENT"


def request_for_child() -> dict[str, str]:
    """The environment entries asking a child started from this process to die with it (empty where the
    system cannot)."""
    return {ENV: str(os.getpid())} if supported() else {}


def exit_with_parent_if_asked() -> None:
    """Called first thing in `sealbridge`: if a parent asked, arrange to get SIGKILL when it dies."""
    value = os.environ.pop(ENV, None)
    if value is None or not supported():
        return
    try:
        parent = int(value)
    except ValueError:
        return
    try:
        end_with_parent(parent)
    except OSError as exc:
        sys.stderr.write(f"prctl(PR_SET_PDEATHSIG) failed: {exc.strerror}\n")
        os._exit(2)
