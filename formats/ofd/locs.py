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
    norm = posixpath.normpath(joined)
    if not norm.startswith("/") or norm.startswith("//") or "/../" in norm + "/":
        raise SealBridgeError("DOC_MALFORMED", f"location {loc!r} escapes the package")
    return norm


def absolute(path: str) -> str:
    return "/" + path.lstrip("/")
