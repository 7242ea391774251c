"""ST_Loc resolution: absolute ("/Doc_0/x") or relative to the folder of the file that refers to it."""

from __future__ import annotations

import posixpath

from formats.errors import SealBridgeError


def folder(path: str) -> str:
    """The folder of a package path, with a leading slash ("/Doc_0/Signs")."""
    return posixpath.dirname("/" + path.lstrip("/"))


def resolve(loc: str, base_file: str) -> str:
    """Resolve `loc` found inside `base_file` to an absolute package path ("/Doc_0/Pages/Page_0/Content.xml")."""
    loc = (loc or "").strip().replace("\\", "/")
    if not loc:
        raise SealBridgeError("DOC_MALFORMED", f"empty location in {base_file}")
    joined = loc if loc.startswith("/") else posixpath.join(folder(base_file), loc)
    # posixpath.normpath silently drops ".." at the root ("/../../etc/passwd" -> "/etc/passwd"), so walk the
    # parts ourselves: a location that climbs above the package root is malformed, not quietly re-rooted.
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise SealBridgeError("DOC_MALFORMED", f"location {loc!r} escapes the package")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise SealBridgeError("DOC_MALFORMED", f"location {loc!r} names the package root")
    return "/" + "/".join(parts)


def absolute(path: str) -> str:
    return "/" + path.lstrip("/")
