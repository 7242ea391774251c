"""Prompt GIL hand-offs while worker threads hash, inflate or copy beside a busy Python thread.

Those workers spend their time in C without the GIL (OpenSSL's hashes, zlib, reads and writes), but each
call ends by taking the GIL back. Behind a thread running Python that can wait a whole switch interval:
5 ms by default, longer than hashing a 1 MiB chunk or a typical OFD page image takes. A worker feeding
many such pieces then spends most of its time waiting while the other core idles. At 0.5 ms the
10-seal 100 MB OFD verification (bench/ofd_verify.py) went from 1.44x to 1.20x one SM3 pass here.

The switch interval belongs to the whole process, and several verifications or stamps may run at once
(the agent): the first user lowers it, the last one restores it, unless somebody else set another value
meanwhile.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The switch interval while hand-offs are wanted: a tenth of CPython's default.
PROMPT_INTERVAL = 0.0005

_lock = threading.Lock()
_users = 0
_saved: float | None = None
_set: float | None = None


def begin() -> None:
    """One more worker wants prompt hand-offs (pair each call with end())."""
    global _users, _saved, _set
    with _lock:
        if _users == 0 and sys.getswitchinterval() > PROMPT_INTERVAL:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(PROMPT_INTERVAL)
            _set = sys.getswitchinterval()
        _users += 1


def end() -> None:
    global _users, _saved, _set
    with _lock:
        _users -= 1
        if _users:
            return
        if _saved is not None and sys.getswitchinterval() == _set:  # nobody changed it since begin()
            # CPython keeps whole microseconds, truncating: half a microsecond more gives back the same value.
            sys.setswitchinterval(_saved + 5e-7)
        _saved = _set = None


@contextmanager
def prompt_handoffs() -> Iterator[None]:
    begin()
    try:
        yield
    finally:
        end()
