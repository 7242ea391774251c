"""A command's start-up without the cyclic garbage collector, whose passes over what it imported then stop.

Importing pyHanko and its stack makes objects by the hundred thousand and hardly any garbage; the
collector's passes over them (a hundred or more during the imports, full passes later) cost tens of
milliseconds of a command the user waits for. Frozen, the objects loaded so far are never scanned again;
what the command makes afterwards is collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused_then_frozen() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
