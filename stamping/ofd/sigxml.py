"""The XML SealBridge writes when stamping: Signature.xml, Signatures.xml, and the OFD.xml link to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from formats.errors import SealBridgeError
from formats.gm import OID_SM2_SM3, OID_SM3
from formats.ofd.xmlsafe import OFD_NS, child, children, fmt_num, local
from stamping.ofd.placement import Annot
from stamping.options import Producer

_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _box(box: tuple[float, float, float, float]) -> str:
    return " ".join(fmt_num(v) for v in box)


def _serialize(root: etree._Element) -> bytes:
    return _XML_DECL + etree.tostring(root, encoding="utf-8")


def build_signature_xml(
    *,
    references: list[tuple[str, str]],  # (absolute path, base64 SM3)
    annots: list[tuple[str, Annot]],  # (StampAnnot ID, placement)
    seal_path: str,
    signed_value_path: str,
    signed_at: datetime,
    producer: Producer,
    method: str = OID_SM2_SM3,
    ns: str = OFD_NS,
) -> bytes:
    """Signature.xml in the XSD order (SignedInfo: Provider, SignatureMethod, SignatureDateTime,
    References, StampAnnot*, Seal; then SignedValue). Its exact bytes are what gets signed."""
    root = etree.Element(_q(ns, "Signature"), nsmap={"ofd": ns})
    info = etree.SubElement(root, _q(ns, "SignedInfo"))
    provider = {"ProviderName": producer.name}
    if producer.version:
        provider["Version"] = producer.version
    if producer.company:
        provider["Company"] = producer.company
    etree.SubElement(info, _q(ns, "Provider"), provider)
    etree.SubElement(info, _q(ns, "SignatureMethod")).text = method
    at = signed_at.astimezone(UTC)
    etree.SubElement(info, _q(ns, "SignatureDateTime")).text = at.strftime("%Y%m%d%H%M%SZ")
    refs = etree.SubElement(info, _q(ns, "References"), CheckMethod=OID_SM3)
    for path, value in references:
        ref = etree.SubElement(refs, _q(ns, "Reference"), FileRef=path)
        etree.SubElement(ref, _q(ns, "CheckValue")).text = value
    for annot_id, annot in annots:
        attrs = {"ID": annot_id, "PageRef": annot.page.id, "Boundary": _box(annot.boundary)}
        if annot.clip is not None:
            attrs["Clip"] = _box(annot.clip)
        etree.SubElement(info, _q(ns, "StampAnnot"), attrs)
    seal = etree.SubElement(info, _q(ns, "Seal"))
    etree.SubElement(seal, _q(ns, "BaseLoc")).text = seal_path
    etree.SubElement(root, _q(ns, "SignedValue")).text = signed_value_path
    return _serialize(root)


class IdAllocator:
    """New IDs in the style the file already uses ("s007", "007" or "7"), above every ID seen."""

    def __init__(self, seen: list[str]) -> None:
        self.prefix, self.width, top = "", 0, 0
        for value in seen:
            m = re.fullmatch(r"([A-Za-z_]*)(\d+)", value.strip())
            if not m:
                continue
            top = max(top, int(m.group(2)))
            if m.group(1) or len(m.group(2)) > 1:
                self.prefix, self.width = m.group(1), len(m.group(2))
        self.next = top + 1
        self.used = {v.strip() for v in seen}

    def take(self) -> str:
        while True:
            value = f"{self.prefix}{self.next:0{self.width}d}"
            self.next += 1
            if value not in self.used:
                self.used.add(value)
                return value


def signatures_xml_new(sign_id: str, base_loc: str, ns: str = OFD_NS) -> bytes:
    root = etree.Element(_q(ns, "Signatures"), nsmap={"ofd": ns})
    etree.SubElement(root, _q(ns, "MaxSignId")).text = sign_id
    etree.SubElement(root, _q(ns, "Signature"), ID=sign_id, Type="Seal", BaseLoc=base_loc)
    return _serialize(root)


def namespace_of(el: etree._Element) -> str:
    """The element's namespace, or the OFD 2016 one for an unqualified element: new parts match the document."""
    return _ns_of(el) or OFD_NS


def _ns_of(el: etree._Element) -> str:
    tag = el.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _make(parent: etree._Element, name: str) -> etree._Element:
    ns = _ns_of(parent)
    return etree.SubElement(parent, _q(ns, name) if ns else name)


def signatures_xml_add(root: etree._Element, sign_id: str, max_id: str, base_loc: str) -> bytes:
    """Append our <Signature> to an existing Signatures.xml and raise its MaxSignId."""
    sig = _make(root, "Signature")
    sig.set("ID", sign_id)
    sig.set("Type", "Seal")
    sig.set("BaseLoc", base_loc)
    max_els = list(children(root, "MaxSignId"))
    if max_els:
        for el in max_els:
            el.text = max_id
    else:
        el = _make(root, "MaxSignId")
        el.text = max_id
        root.remove(el)
        root.insert(0, el)
    return _serialize(root)


def link_signatures(ofd_root: etree._Element, doc_index: int, signatures_loc: str) -> bytes:
    """OFD.xml with DocBody/Signatures pointing at a new Signatures.xml. An element already there (empty, or
    naming a part the stamp could not use) is repointed: readers take the first one, so a second is ignored."""
    bodies = [b for b in ofd_root if local(b) == "DocBody"]
    if doc_index >= len(bodies):
        raise SealBridgeError("DOC_MALFORMED", "OFD.xml has no such DocBody")
    existing = child(bodies[doc_index], "Signatures")
    (existing if existing is not None else _make(bodies[doc_index], "Signatures")).text = signatures_loc
    return _serialize(ofd_root)
