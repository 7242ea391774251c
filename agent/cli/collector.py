"""A command's start-up (or a whole one-document command) without the cyclic garbage collector, whose passes
over what it made then stop.

Importing pyHanko and its stack makes objects by the hundred thousand and hardly any garbage; the
collector's passes over them (a hundred or more during the imports, full passes later) cost tens of
milliseconds of a command the user waits for. Frozen, the objects made so far are never scanned again;
what the command makes afterwards is collected as usual. `sealbridge verify FILE` keeps the collector
paused until its report is printed: parsing one document and checking its signatures is more of the same
(a 50 MB PDF with ten seals: 60 passes, 10-20 ms), and the frozen objects are skipped by the pass every
process makes at exit too.
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
