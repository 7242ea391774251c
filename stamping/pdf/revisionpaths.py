"""The paths to every object of a signed revision, as pyHanko's difference analysis maps them, without the
copy of each object that pyHanko's own mapping makes.

pyHanko's StandardDiffPolicy asks, for every signature, where each object a later revision wrote is used in
the signed revision: HistoricalResolver._load_reverse_xref_cache walks the revision's whole object graph
from its trailer and records every path to every indirect object. It reads the objects through the
revision's HistoricalResolver, which makes a copy of each one (_subsume_object: its dictionaries and
arrays rebuilt so that references resolve within that revision) and parses again, for each revision, every
object a later revision replaced. The paths are quick to compute (2-5 ms for a revision of 100 objects);
reading and copying the objects is the rest, 10-20 ms a revision here, once for every signature: with ten
seals about a third of the difference analysis.

reverse_paths() walks the same graph by the same rules (pyHanko 0.38's _compute_paths_to_refs: a page tree
node entered only along the page tree's own /Kids, /Parent never followed, nor /P inside the structure
tree, a structure element entered only from /StructTreeRoot /K, a reference already on the path not
followed again; every path to an object recorded, also where it is not entered) but reads each object as
the revision has it straight from the reader: the reader's own copy where no later revision changed it,
else the version that revision has. Nothing is copied. prepare() hands the result to the signed revision's
resolver before the analysis asks for it, so pyHanko finds the map made; nothing of pyHanko's is replaced.

Only for an unencrypted document (pyHanko decrypts lazily, through the copies) that is not a hybrid-reference
file. Where pyHanko's walk would fail, or might need more stack than is left, or where pyHanko might later
change an object in place (a stream's /DecodeParms it pads when decoding, which pyHanko's walk would have
copied before), this walk gives up and puts the reader back as it was, and pyHanko's own method runs when
the analysis asks, where it always would: a circular page or structure tree, an object pyHanko's copy
refuses (_check_copyable), a document deeper than the limits below; likewise any other error here.
tests/pdf/test_pdf_revision_paths.py compares both maps, and both failures, over documents of many shapes
(a pyHanko upgrade that maps otherwise shows there).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath

_EMPTY: tuple[()] = ()
_STRUCT_TREE_ROOT = ("/StructTreeRoot", ("/Root", _EMPTY))  # the path /Root /StructTreeRoot
_FOLLOWED = (generic.IndirectObject, generic.DictionaryObject, generic.ArrayObject)

# pyHanko's own walk recurses: along a path (~1.6 frames a step, its paths compared and hashed
# recursively), down the page tree (~8 frames a level) and the structure tree, along a chain of references
# to references (~2 frames a link), into every object it copies or parses (1-2 frames a level of nesting),
# and fails (RecursionError) where that passes Python's recursion limit. reverse_paths() reckons the frames
# pyHanko's walk would need at once from the deepest of each it met, with room to spare, and leaves the walk
# to pyHanko when the stack has fewer left. These caps only end a walk early.
MAX_PATH = 96  # steps of a path
MAX_CHAIN = 16  # references to references followed in a row
MAX_TREE = 64  # levels of the page tree and of the structure tree
MAX_NESTING = 48  # dictionaries and arrays within one another inside an object


class _TooDeep(Exception):
    pass


class _NotCopyable(Exception):
    """pyHanko's copy of this object would fail: a value in it has no container reference (a null the
    reader made up for an object it could not find, or one pyHanko appended to an array)."""


class _MayChange(Exception):
    """pyHanko may change this object in place later: decoding a stream pads a /DecodeParms array shorter
    than its /Filter with nulls it cannot copy. pyHanko's own walk copies such an object at one moment
    and this walk does not copy it at all, so the analysis after them could see it differently."""


def _check_copyable(obj: Any) -> int:
    """Raise where HistoricalResolver._subsume_object(obj) would: it asks every value in the object,
    whether walked or not, for its container reference. Also _MayChange for a stream whose /DecodeParms
    pyHanko may pad, and _TooDeep past MAX_NESTING. Returns how deep the object nests."""
    if isinstance(obj, generic.StreamObject) and not _decode_parms_stay(obj):
        raise _MayChange
    deepest = 0
    todo = [(obj, 0)]
    while todo:
        value, depth = todo.pop()
        if value.container_ref is None:
            raise _NotCopyable
        if isinstance(value, generic.DictionaryObject):
            children: Any = value.values()
        elif isinstance(value, generic.ArrayObject):
            children = value
        else:
            continue
        if depth >= MAX_NESTING:
            raise _TooDeep
        deepest = max(deepest, depth + 1)
        todo.extend((child, depth + 1) for child in children)
    return deepest


def _decode_parms_stay(stream: Any) -> bool:
    """Will decoding `stream` leave its /DecodeParms as it is (StreamObject._filters pads an array shorter
    than /Filter in place)? Told from the stream's own entries; an indirect one counts as a change."""
    parms = dict.get(stream, "/DecodeParms")
    if parms is None or isinstance(parms, (generic.DictionaryObject, generic.NullObject)):
        return True
    if not isinstance(parms, generic.ArrayObject):
        return False
    filters = dict.get(stream, "/Filter")
    if isinstance(filters, generic.NameObject):
        return len(parms) >= 1
    return isinstance(filters, generic.ArrayObject) and len(parms) >= len(filters)


def _object_streams_stay(reader: PdfFileReader) -> bool:
    """Will reading an object from any of the document's object streams leave the reader's objects as they
    are? Reading one decodes its stream (the reader's own copy of it), which may pad a /DecodeParms."""
    known = getattr(reader, "_sealbridge_object_streams_stay", None)
    if known is not None:
        return bool(known)
    # A hybrid file's /XRefStm sections list object streams that object_streams_used_in() does not name.
    stay = not reader.xrefs.hybrid_xrefs_present
    for revision in range(reader.xrefs.total_revisions if stay else 0):
        for ref in reader.xrefs.object_streams_used_in(revision):
            stream = reader.get_object(ref)
            if isinstance(stream, generic.StreamObject) and not _decode_parms_stay(stream):
                stay = False
    reader._sealbridge_object_streams_stay = stay  # type: ignore[attr-defined]
    return stay


def _reader_state(reader: PdfFileReader) -> Callable[[], None]:
    """What reading objects changes in the reader, and a function that puts it back: the objects it
    parsed, the streams it decoded (reading from an object stream
    decodes it, caching the data in the stream object) and what decoding charged to the document's
    decoding budget. pyHanko's own walk, run after a walk here gave up, then parses and decodes, at its own
    depth of stack and against its own budget, all it would have."""
    held = set(reader.resolved_objects)
    undecoded = [
        obj
        for obj in reader.resolved_objects.values()
        if isinstance(obj, generic.StreamObject) and getattr(obj, "_data", True) is None
    ]
    context = reader.decode_context
    budget = getattr(context, "_remaining_budget", None)

    def undo() -> None:
        for key in set(reader.resolved_objects) - held:
            del reader.resolved_objects[key]
        for obj in undecoded:
            obj._data = None
        if hasattr(context, "_remaining_budget"):
            context._remaining_budget = budget

    return undo


def _stack_left() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return sys.getrecursionlimit() - depth


class _Revision:
    """Objects as one revision has them, read without copies."""

    def __init__(self, resolver: HistoricalResolver):
        self.reader: PdfFileReader = resolver.reader
        self.revision: int = resolver.revision
        self.xrefs = self.reader.xrefs
        # the same for every revision of a document: kept with the reader
        self.last_change: dict[generic.Reference, int | None] = self.reader.__dict__.setdefault(
            "_sealbridge_last_changes", {}
        )
        self.seen: dict[generic.Reference, Any] = {}
        # Earlier versions of objects at places in the file, parsed once for all revisions of the document:
        # the reader parses them afresh each time (never keeping them), so these are this module's alone
        # and nothing else reads or changes them.
        self.earlier: dict[tuple[int, int, int], Any] = self.reader.__dict__.setdefault(
            "_sealbridge_earlier_versions", {}
        )
        self.deepest_nesting = self.longest_chain = self.deepest_tree = self.longest_path = 0

    def resolve(self, ref: generic.Reference) -> Any:
        """As HistoricalResolver.get_object(ref), less the copy."""
        try:
            return self.seen[ref]
        except KeyError:
            pass
        try:
            last_change = self.last_change[ref]
        except KeyError:
            try:
                last_change = self.xrefs.get_last_change(ref)
            except KeyError:
                last_change = None
            self.last_change[ref] = last_change
        if last_change is not None and last_change <= self.revision:
            obj = self.reader.get_object(ref, transparent_decrypt=False)
        else:
            obj = self._earlier_version(ref)
        self.deepest_nesting = max(self.deepest_nesting, _check_copyable(obj))
        self.seen[ref] = obj
        return obj

    def _earlier_version(self, ref: generic.Reference) -> Any:
        place = self.xrefs.get_historical_ref(ref, self.revision)
        if type(place) is not int:  # in an object stream, or none: read as pyHanko reads it
            return self.reader.get_object(ref, self.revision, transparent_decrypt=False)
        key = (ref.idnum, ref.generation, place)
        try:
            return self.earlier[key]
        except KeyError:
            obj = self.earlier[key] = self.reader.get_object(ref, self.revision, transparent_decrypt=False)
            return obj

    def deref(self, value: Any) -> Any:
        """As value.get_object() on the resolver's copy: an indirect object is followed, also when it
        points at another one."""
        for links in range(MAX_CHAIN + 1):
            if not isinstance(value, generic.IndirectObject):
                self.longest_chain = max(self.longest_chain, links)
                return value
            value = self.resolve(value.reference)
        raise _TooDeep

    def item(self, dictionary: Any, key: str) -> Any:
        """As dictionary[key] on the resolver's copy (a null is a missing key)."""
        value = self.deref(dict.__getitem__(dictionary, key))
        if isinstance(value, generic.NullObject):
            raise KeyError(key)
        return value


def reverse_paths(resolver: HistoricalResolver) -> dict[generic.Reference, set[RawPdfPath]] | None:
    """The map _load_reverse_xref_cache would make for `resolver`; None where it is not made here (then
    also raising). Where none is made, the reader is as it was (_reader_state): pyHanko's own walk then
    parses and decodes as it would have."""
    reader = resolver.reader
    if reader.encrypted:
        return None
    undo = _reader_state(reader)
    try:
        if not _object_streams_stay(reader):
            raise _MayChange
        rev = _Revision(resolver)
        paths = _map(resolver, rev)
        # What pyHanko's recursion would need at once (measured: a path ~1.6 frames a step, the page tree
        # ~8 a level, a chain ~2 a link, nesting 1-2 a level), with room to spare.
        need = 2 * rev.longest_path + 10 * rev.deepest_tree + 3 * rev.longest_chain + 3 * rev.deepest_nesting
        if need + 100 > _stack_left():
            raise _TooDeep
    except BaseException:
        undo()
        raise
    return paths


def _map(resolver: HistoricalResolver, rev: _Revision) -> dict[generic.Reference, set[RawPdfPath]]:
    # A path is a linked list of (head, tail) pairs, the last step first, as pyHanko's ConsList.
    collected: defaultdict[generic.Reference, set[Any]] = defaultdict(set)

    root = rev.resolve(resolver.root_ref)
    assert isinstance(root, generic.DictionaryObject)
    pages_raw = root.raw_get("/Pages")
    pages_path = ("/Pages", ("/Root", _EMPTY))
    page_tree: dict[generic.Reference, Any] = {}
    if isinstance(pages_raw, generic.IndirectObject):
        page_tree[pages_raw.reference] = pages_path
    for ref, path in _page_tree_refs(rev, rev.deref(pages_raw), pages_path, 0):
        if ref in page_tree:
            raise ValueError("circular page tree")  # pyHanko raises; its own mapping says so
        page_tree[ref] = path
    struct_tree: set[generic.Reference] = set()
    try:
        struct_root = rev.deref(root.raw_get("/StructTreeRoot"))
        for ref in _struct_tree_refs(rev, struct_root, 0):
            if ref in struct_tree:
                raise ValueError("circular structure tree")
            struct_tree.add(ref)
    except KeyError:
        pass

    def walk(obj: Any, path: Any, on_path: frozenset[generic.Reference], in_struct: bool, depth: int) -> None:
        # Only references, dictionaries and arrays are passed in: anything else ends a path unrecorded.
        if depth > MAX_PATH:
            raise _TooDeep
        if depth > rev.longest_path:
            rev.longest_path = depth
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            if ref in on_path:
                return
            collected[ref].add(path)
            on_path = on_path | {ref}
            obj = rev.resolve(ref)
            if page_tree.get(ref, path) != path:
                return
            if not in_struct and ref in struct_tree:
                return
        if isinstance(obj, generic.DictionaryObject):
            at_struct_root = not in_struct and path == _STRUCT_TREE_ROOT
            for key, value in obj.items():
                if isinstance(value, _FOLLOWED) and key != "/Parent" and not (in_struct and key == "/P"):
                    walk(
                        value, (key, path), on_path, in_struct or (at_struct_root and key == "/K"), depth + 1
                    )
        elif isinstance(obj, generic.ArrayObject):
            for ix, value in enumerate(obj):
                if isinstance(value, _FOLLOWED):
                    walk(value, (ix, path), on_path, in_struct, depth + 1)

    walk(resolver.trailer_view, _EMPTY, frozenset(), False, 0)
    return {ref: {RawPdfPath(*_steps(p)) for p in paths} for ref, paths in collected.items()}


def _steps(path: Any) -> list[Any]:
    out = []
    while path:
        out.append(path[0])
        path = path[1]
    out.reverse()
    return out


def _page_tree_refs(rev: _Revision, pages: Any, path: Any, depth: int):  # noqa: ANN202 - a generator
    if depth > MAX_TREE:
        raise _TooDeep
    rev.deepest_tree = max(rev.deepest_tree, depth)
    for ix, kid in enumerate(rev.item(pages, "/Kids")):
        kid_path = (ix, ("/Kids", path))
        if isinstance(kid, generic.IndirectObject):
            yield kid.reference, kid_path
        kid = rev.deref(kid)
        if kid.get("/Type", None) == "/Pages":
            yield from _page_tree_refs(rev, kid, kid_path, depth + 1)


def _struct_tree_refs(rev: _Revision, elem: Any, depth: int):  # noqa: ANN202 - a generator
    if depth > MAX_TREE:
        raise _TooDeep
    rev.deepest_tree = max(rev.deepest_tree, depth)
    try:
        children = rev.item(elem, "/K")
    except KeyError:
        return
    if not isinstance(children, generic.ArrayObject):
        children = (children,)
    for child in children:
        child_ref = None
        if isinstance(child, generic.IndirectObject):
            child_ref = child.reference
            child = rev.deref(child)
        if not isinstance(child, generic.DictionaryObject):
            continue
        try:
            if rev.item(child, "/Type") != "/StructElem":
                continue
        except KeyError:
            pass
        if child_ref is not None:
            yield child_ref
        yield from _struct_tree_refs(rev, child, depth + 1)


def prepare(resolver: HistoricalResolver) -> bool:
    """Give `resolver` the map its _load_reverse_xref_cache would make, made here, before pyHanko's
    difference analysis asks for it (it then finds it made). False where none is made: pyHanko's own
    method then runs when the analysis asks, as it always would, at its own depth of stack."""
    if resolver._indirect_object_access_cache is not None:
        return True
    try:
        paths = reverse_paths(resolver)
    except Exception:  # noqa: BLE001 - given up: pyHanko's own walk meets it, or copes
        return False
    if paths is None:
        return False
    resolver._indirect_object_access_cache = paths
    return True
