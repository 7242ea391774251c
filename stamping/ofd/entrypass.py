"""One pass over the package entries an OFD's seals need, alongside the seals' other checks.

Every seal of a document usually references the same files (Document.xml, every page, every resource), and
each later seal the earlier seals' own files too. Checking seal by seal would inflate and hash each entry
once per seal; here each entry is inflated once (large ones on worker threads, largest first), feeding one
hash per CheckMethod asked for, and the small parts a check also reads whole (SignedValue.dat, Seal.esl) are kept from that same read.
Signature.xml files were read whole already to parse them: their digests come from those bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from formats.errors import SealBridgeError
from formats.ofd import OfdPackage, SignatureXml
from formats.ofd.package import Hasher
from stamping.ofd.coverage import hash_name, hasher_for
from stamping.ofd.hashjobs import WORKERS, HashJobs, Job

#: Below this many bytes to hash, everything runs on the calling thread (batch verification of many
#: one-page documents must not start threads for a few kilobytes each).
THREADS_FROM = 4 << 20

#: The most bytes kept for the checks at once (hundreds of signatures, each with a large SignedValue.dat,
#: must not all sit in memory); beyond it, a part is read again when its seal is checked.
_KEEP_BUDGET = 32 << 20

#: An entry to inflate once, and the hashes (hash_name → factory) to feed.
_Item = tuple[str, dict[str, Callable[[], Hasher]]]


_Done = tuple[str, dict[str, bytes], bytes | None]


@dataclass
class EntryPass:
    #: zip name → bytes, for the parts asked to be kept (an entry that could not be read is left out, so
    #: whoever needs it reads it again and gets the precise error). Ready when run_entry_pass returns.
    kept: dict[str, bytes] = field(default_factory=dict)
    _digests: dict[tuple[str, str], bytes] = field(default_factory=dict)
    _pending: list[Job[_Done]] = field(default_factory=list)
    _jobs: HashJobs | None = None

    def _add(self, done: _Done) -> None:
        name, digests, kept = done
        for method, digest in digests.items():
            self._digests[(name, method)] = digest
        if kept is not None:
            self.kept[name] = kept

    def digests(self) -> dict[tuple[str, str], bytes]:
        """(zip name, coverage.hash_name of the CheckMethod) → digest, check_references' cache; waits for
        the entries still being hashed in the background (hashing those still queued itself)."""
        while self._pending:
            job = self._pending.pop(0)
            self._add(self._jobs.wait(job) if self._jobs is not None else job.outcome())
        return self._digests


def wanted_digests(
    pkg: OfdPackage, sigs: Iterable[SignatureXml | None]
) -> dict[str, dict[str, Callable[[], Hasher]]]:
    """zip name → hash_name → hash factory, for every entry some signature references."""
    wanted: dict[str, dict[str, Callable[[], Hasher]]] = {}
    for sig in sigs:
        method = hash_name(sig.check_method) if sig is not None else None
        factory = hasher_for(sig.check_method) if sig is not None else None
        if sig is None or method is None or factory is None:
            continue
        for ref in sig.references:
            name = pkg.find(ref.path)
            if name is not None:
                wanted.setdefault(name, {})[method] = factory
    return wanted


def run_entry_pass(
    pkg: OfdPackage,
    sigs: list[SignatureXml | None],
    keep: dict[str, int] | None = None,
    wanted: dict[str, dict[str, Callable[[], Hasher]]] | None = None,
    jobs: HashJobs | None = None,
) -> EntryPass:
    """Digests of every entry the signatures reference (per CheckMethod), and the bytes of `keep`'s entries
    (package path → the most bytes worth keeping). The kept parts (small: SignedValue.dat, Seal.esl) are
    read here; the other entries are hashed on worker threads while the caller checks the signatures,
    and EntryPass.digests() waits for them. Entries read whole already (Signature.xml files, and whatever
    was parsed after pkg.hash_when_read()) are not inflated again. Unreadable or missing entries are
    skipped: the per-seal checks read them again and report why. `wanted`: wanted_digests(pkg, sigs), when
    made already. `jobs`: the verification's shared workers (the whole file's digests are queued there
    too); without it, workers are started here when the entries are large enough to be worth it."""
    result = EntryPass()
    wanted = wanted_digests(pkg, sigs) if wanted is None else wanted
    raw = {name: sig.raw for sig in sigs if sig is not None and (name := pkg.find(sig.path)) is not None}
    keep_names: dict[str, int] = {}
    budget = _KEEP_BUDGET
    for path, limit in (keep or {}).items():
        name = pkg.find(path)
        if name is None or name in keep_names or pkg.entries[name].size > min(limit, budget):
            continue  # not kept: read again when needed, one at a time
        keep_names[name] = limit
        budget -= pkg.entries[name].size
    for name, digests in pkg.read_digests.items():
        for method in wanted.get(name, {}):
            if method in digests:
                result._digests[(name, method)] = digests[method]
    on_this_thread: list[_Item] = []
    in_background: list[_Item] = []
    for name in set(wanted) | set(keep_names):
        missing = {m: f for m, f in wanted.get(name, {}).items() if (name, m) not in result._digests}
        if name in keep_names:
            on_this_thread.append((name, missing))
        elif missing:
            in_background.append((name, missing))

    def one(item: _Item) -> _Done:
        name, factories = item
        if name in raw and name not in keep_names:
            return name, {m: _digest(f, raw[name]) for m, f in factories.items()}, None
        try:
            digests, kept = pkg.digests(
                name, factories, keep_names.get(name, -1), digest_checks_integrity=True
            )
            return name, digests, kept
        except SealBridgeError:
            return name, {}, None

    if sum(pkg.entries[name].size for name, _ in in_background) < THREADS_FROM:
        # A small document: starting threads would cost more than they save.
        on_this_thread += in_background
        in_background = []
    if in_background:
        result._jobs = jobs if jobs is not None else HashJobs(WORKERS)
        # Largest first: the last jobs are small, so the workers finish together.
        for item in sorted(in_background, key=lambda it: -pkg.entries[it[0]].size):
            result._pending.append(result._jobs.post(lambda item=item: one(item)))  # type: ignore[misc]
    for item in on_this_thread:
        result._add(one(item))
    return result


def _digest(factory: Callable[[], Hasher], data: bytes) -> bytes:
    h = factory()
    h.update(data)
    return h.digest()
