"""Where seals go: by coordinates, by keyword, or as a riding seam (骑缝章).

Units are millimetres with the origin at the page's top-left corner (as OFD); PDF code converts.
`x`, `y` name the seal's centre. The same objects come from the CLI (`--place page=1,x=50,y=60`) and
from the agent protocol (JSON), so both parse here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from formats.errors import SealBridgeError

MAX_PLACEMENTS = 64


@dataclass(frozen=True)
class At:
    page: int  # 1-based
    x: float  # centre, mm from the left edge
    y: float  # centre, mm from the top edge
    kind: Literal["at"] = "at"


@dataclass(frozen=True)
class Keyword:
    text: str
    nth: int | None = None  # 1-based; None = every hit
    dx: float = 0.0
    dy: float = 0.0
    kind: Literal["keyword"] = "keyword"


@dataclass(frozen=True)
class Seam:
    side: Literal["left", "right", "top", "bottom"] = "right"
    first_page: int | None = None  # 1-based, inclusive; None = the first page
    last_page: int | None = None  # None = the last page
    offset: float | None = None  # mm of the seal's centre from the top (left/right) or left (top/bottom) edge
    kind: Literal["seam"] = "seam"

    def pages(self, page_count: int) -> list[int]:
        first = self.first_page or 1
        last = self.last_page or page_count
        if first < 1 or last > page_count or first > last:
            raise SealBridgeError("PLACEMENT_INVALID", f"seam pages {first}-{last} outside 1-{page_count}")
        if last - first < 1:
            raise SealBridgeError("PLACEMENT_INVALID", "a riding seam needs at least two pages")
        return list(range(first, last + 1))


Placement = At | Keyword | Seam


def _bad(msg: str) -> SealBridgeError:
    return SealBridgeError("PLACEMENT_INVALID", msg)


def _num(value: Any, name: str, lo: float = -10000.0, hi: float = 10000.0) -> float:
    if isinstance(value, bool):  # JSON true is not a length
        raise _bad(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a number, got {value!r}") from None
    if not (lo <= out <= hi) or out != out:
        raise _bad(f"{name}={out} out of range")
    return out


def _int(value: Any, name: str, lo: int = 1, hi: int = 100000) -> int:
    if isinstance(value, bool):
        raise _bad(f"{name} must be an integer")
    try:
        out = int(str(value), 10)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be an integer, got {value!r}") from None
    if not lo <= out <= hi:
        raise _bad(f"{name}={out} out of range {lo}-{hi}")
    return out


def from_dict(d: dict[str, Any]) -> Placement:
    """Parse one placement from the protocol's JSON form:
    {"type":"at","page":1,"x":50,"y":60} | {"type":"keyword","text":"盖章处","nth":1,"dx":0,"dy":0}
    | {"type":"seam","side":"right","pages":"1-5","offset":100}"""
    if not isinstance(d, dict):
        raise _bad(f"a placement must be an object, got {type(d).__name__}")
    kind = d.get("type")
    if kind == "at":
        return At(page=_int(d.get("page"), "page"), x=_num(d.get("x"), "x"), y=_num(d.get("y"), "y"))
    if kind == "keyword":
        text = d.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            raise _bad("keyword text must be a non-empty string of at most 200 characters")
        nth = d.get("nth")
        return Keyword(
            text=text,
            nth=None if nth is None else _int(nth, "nth"),
            dx=_num(d.get("dx", 0), "dx"),
            dy=_num(d.get("dy", 0), "dy"),
        )
    if kind == "seam":
        side = d.get("side", "right")
        if side not in ("left", "right", "top", "bottom"):
            raise _bad(f"seam side must be left, right, top or bottom, got {side!r}")
        first, last = _page_range(d.get("pages"))
        off = d.get("offset")
        return Seam(
            side=side, first_page=first, last_page=last, offset=None if off is None else _num(off, "offset")
        )
    raise _bad(f"unknown placement type {kind!r}")


def _page_range(value: Any) -> tuple[int | None, int | None]:
    if value in (None, "", "all"):
        return None, None
    text = str(value)
    if "-" in text:
        a, b = text.split("-", 1)
        return (_int(a, "pages") if a else None), (_int(b, "pages") if b else None)
    n = _int(text, "pages")
    return n, n


def _kv(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in spec.split(","):
        if not part:
            continue
        if "=" not in part:
            raise _bad(f"expected key=value in {spec!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_place(spec: str) -> At:
    """CLI form: page=N,x=MM,y=MM"""
    kv = _kv(spec)
    unknown = set(kv) - {"page", "x", "y"}
    if unknown or not {"page", "x", "y"} <= set(kv):
        raise _bad(f"--place wants page=N,x=MM,y=MM, got {spec!r}")
    p = from_dict({"type": "at", **kv})
    assert isinstance(p, At)
    return p


def parse_keyword(spec: str) -> Keyword:
    """CLI form: TEXT[,nth=K][,dx=MM,dy=MM] (the text is everything before the first ',key=')."""
    text, opts = spec, {}
    for i, ch in enumerate(spec):
        if ch == "," and any(spec[i + 1 :].startswith(k + "=") for k in ("nth", "dx", "dy")):
            text, opts = spec[:i], _kv(spec[i + 1 :])
            break
    if set(opts) - {"nth", "dx", "dy"}:
        raise _bad(f"--keyword options are nth, dx, dy; got {sorted(opts)}")
    p = from_dict({"type": "keyword", "text": text, **opts})
    assert isinstance(p, Keyword)
    return p


def parse_seam(spec: str) -> Seam:
    """CLI form: left|right|top|bottom[,pages=1-5][,offset=MM]"""
    side, _, rest = spec.partition(",")
    kv = _kv(rest)
    if set(kv) - {"pages", "offset"}:
        raise _bad(f"--seam options are pages, offset; got {sorted(kv)}")
    p = from_dict({"type": "seam", "side": side.strip(), **kv})
    assert isinstance(p, Seam)
    return p


def check_count(placements: list[Placement]) -> None:
    if not placements:
        raise _bad("at least one placement is required")
    if len(placements) > MAX_PLACEMENTS:
        raise SealBridgeError("DOC_TOO_LARGE", f"{len(placements)} placements; the limit is {MAX_PLACEMENTS}")
