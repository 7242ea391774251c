"""Finish asn1crypto's lazy per-class set-up before more than one thread uses the classes.

asn1crypto builds each spec class's lookup tables (an OID class's name->OID map, a Sequence's field map, a
Choice's alternative map) the first time an instance is made, by assigning an empty dict to the class and
then filling it, with no lock. A second thread arriving in between sees a half-built table. The agent runs
stamps, logins and verifications in worker threads side by side, so every class loaded so far is set up
here, once, from one thread: at start-up, after the modules that define spec classes are imported and before
requests reach worker threads. The same pass completes name->OID maps that missed names another module added
after the class was first used (asn1crypto.tsp adds 'tst_info' to cms.ContentType; see formats.gm.oids).
"""

from __future__ import annotations

from asn1crypto import core

from formats.gm.oids import complete_reverse_map


def _spec_classes() -> list[type[core.Asn1Value]]:
    seen: set[type] = set()
    todo: list[type] = [core.Asn1Value]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return sorted(seen, key=lambda c: (c.__module__, c.__qualname__))


def unsettled_classes() -> list[type[core.Asn1Value]]:
    """Spec classes whose tables asn1crypto has not built yet (what a thread race could catch half-built)."""
    return [cls for cls in _spec_classes() if cls not in core._SETUP_CLASSES]  # noqa: SLF001


def settle_asn1_classes() -> int:
    """Set up every spec class loaded so far; returns how many were set up now. Cheap when nothing is new."""
    count = 0
    for cls in unsettled_classes():
        try:
            cls()  # the constructor runs the class's one-time set-up before it looks at any value
        except Exception:  # noqa: BLE001 - a class that needs constructor arguments is still set up below
            pass
        if cls not in core._SETUP_CLASSES:  # noqa: SLF001
            # The constructor failed before its set-up step: an abstract base (a Choice without alternatives,
            # a Sequence without fields) that is never instantiated, so there is no table to race on.
            continue
        count += 1
    for cls in _spec_classes():
        if issubclass(cls, core.ObjectIdentifier):
            complete_reverse_map(cls)  # names another module added after the class was first used
    return count
