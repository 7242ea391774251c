"""No orphans: a child process asks the kernel to end it (SIGKILL) when its parent ends, however the parent
ends, SIGKILL included (Linux's prctl PR_SET_PDEATHSIG). One home for the forked helpers of
stamping.pdf.forkshare and the programs the demo starts (sealbridge.parent_death).

The signal comes when the *thread* that started the child ends, not the whole process: children that must
outlive a thread are started from the main thread. Other systems have no such request: there a child of a
killed parent runs on, as before.
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def supported() -> bool:
    return sys.platform.startswith("linux")


def end_with_parent(parent: int) -> None:
    """In a child of `parent`: have the kernel SIGKILL this process when the parent ends. If the parent
    ended before the request was made, this process was re-parented and no signal would ever come: it exits
    at once. A no-op where unsupported; OSError if the kernel refuses the request."""
    if not supported():
        return
    import ctypes  # only here: a few milliseconds the common path never pays

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    if os.getppid() != parent:
        os._exit(1)
