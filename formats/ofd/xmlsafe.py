"""Hardened XML parsing for OFD parts: no DTDs, no entities, no network, bounded size and depth.

OFD producers disagree on element order and on namespace prefixes (old files use http://www.ofdspec.org,
newer ones http://www.ofdspec.org/2016), so every lookup here is by local name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from formats.errors import SealBridgeError
from formats.ofd.limits import DEFAULT_PACKAGE_LIMITS, PackageLimits

OFD_NS = "http://www.ofdspec.org/2016"
_DTD = re.compile(rb"<!(?i:doctype|entity)")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_xml(
    data: bytes, name: str = "XML", limits: PackageLimits = DEFAULT_PACKAGE_LIMITS
) -> etree._Element:
    """Parse one OFD XML part. Anything with a DOCTYPE is refused outright (XXE, billion laughs)."""
    if len(data) > limits.max_xml_bytes:
        raise SealBridgeError("DOC_TOO_LARGE", f"{name}: {len(data)} bytes exceeds {limits.max_xml_bytes}")
    if _DTD.search(data):
        raise SealBridgeError("DOC_MALFORMED", f"{name}: DTDs and entities are not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise SealBridgeError("DOC_MALFORMED", f"{name}: not well-formed XML ({exc})") from None
    if root is None:
        raise SealBridgeError("DOC_MALFORMED", f"{name}: empty XML")
    if root.getroottree().docinfo.doctype:
        raise SealBridgeError("DOC_MALFORMED", f"{name}: DTDs are not allowed")
    _check_shape(root, name, limits)
    return root


def _check_shape(root: etree._Element, name: str, limits: PackageLimits) -> None:
    count = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        count += 1
        if depth > limits.max_xml_depth:
            raise SealBridgeError("DOC_MALFORMED", f"{name}: nesting deeper than {limits.max_xml_depth}")
        if count > limits.max_xml_elements:
            raise SealBridgeError("DOC_TOO_LARGE", f"{name}: more than {limits.max_xml_elements} elements")
        stack.extend((child, depth + 1) for child in el)


def local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""  # comments, processing instructions
    return tag.rsplit("}", 1)[-1]


def children(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in el:
        if local(child) == name:
            yield child


def child(el: etree._Element, name: str) -> etree._Element | None:
    return next(children(el, name), None)


def descendants(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for d in el.iter():
        if local(d) == name:
            yield d


def text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def child_text(el: etree._Element, name: str) -> str:
    return text(child(el, name))


def attr(el: etree._Element, name: str, default: str = "") -> str:
    """Attributes are unqualified in OFD, but tolerate a namespaced spelling."""
    value = el.get(name)
    if value is None:
        for key, v in el.attrib.items():
            if key.rsplit("}", 1)[-1] == name:
                return v
        return default
    return value


def parse_box(value: str) -> tuple[float, float, float, float] | None:
    """ST_Box "x y w h" in mm; None if absent or malformed."""
    parts = value.replace(",", " ").split()
    if len(parts) != 4:
        return None
    try:
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        return None
    return x, y, w, h


def fmt_num(v: float) -> str:
    """A compact decimal for XML attributes ("40", "12.5", "0.333")."""
    out = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out
