"""The document structure needed for stamping and verification: OFD.xml → Document.xml → pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from formats.errors import SealBridgeError
from formats.ofd.locs import resolve
from formats.ofd.package import OfdPackage
from formats.ofd.xmlsafe import attr, child, child_text, children, local, parse_box

A4 = (0.0, 0.0, 210.0, 297.0)


@dataclass
class Page:
    index: int  # 0-based position in Document.xml
    id: str  # the Page@ID that StampAnnot@PageRef names
    content: str | None  # absolute path of the page's Content.xml
    box: tuple[float, float, float, float]  # PhysicalBox in mm
    templates: list[tuple[str, str]] = field(default_factory=list)  # (absolute path, ZOrder)

    @property
    def width(self) -> float:
        return self.box[2]

    @property
    def height(self) -> float:
        return self.box[3]


@dataclass
class OfdDocument:
    index: int  # the DocBody's position in OFD.xml
    root_path: str  # absolute path of Document.xml
    signatures_path: str | None  # absolute path of Signatures.xml, when OFD.xml names one
    pages: list[Page]
    max_unit_id: int


def _page_box(el: etree._Element | None) -> tuple[float, float, float, float] | None:
    if el is None:
        return None
    area = child(el, "Area") if local(el) != "PageArea" else el
    if area is None:
        return None
    return parse_box(child_text(area, "PhysicalBox"))


def doc_bodies(pkg: OfdPackage) -> tuple[etree._Element, list[etree._Element]]:
    root = pkg.xml("OFD.xml")
    if local(root) != "OFD":
        raise SealBridgeError("DOC_MALFORMED", "OFD.xml has no OFD root element")
    bodies = list(children(root, "DocBody"))
    if not bodies:
        raise SealBridgeError("DOC_MALFORMED", "OFD.xml has no DocBody")
    return root, bodies


def load_document(pkg: OfdPackage, index: int = 0, bodies: list[etree._Element] | None = None) -> OfdDocument:
    """Read DocBody `index` (signing and verification act on the first document, as every producer does);
    `bodies` from doc_bodies() when the caller has read OFD.xml already."""
    if bodies is None:
        _, bodies = doc_bodies(pkg)
    if index >= len(bodies):
        raise SealBridgeError("DOC_MALFORMED", f"OFD.xml has no DocBody {index}")
    body = bodies[index]
    doc_root = child_text(body, "DocRoot")
    if not doc_root:
        raise SealBridgeError("DOC_MALFORMED", "OFD.xml DocBody has no DocRoot")
    root_path = resolve(doc_root, "/OFD.xml")
    sig_loc = child_text(body, "Signatures")
    signatures_path = resolve(sig_loc, "/OFD.xml") if sig_loc else None
    doc = pkg.xml(root_path)
    common = child(doc, "CommonData")
    default_box = (_page_box(child(common, "PageArea")) if common is not None else None) or A4
    max_unit = 0
    templates: dict[str, str] = {}
    if common is not None:
        try:
            max_unit = int(child_text(common, "MaxUnitID") or 0)
        except ValueError:
            max_unit = 0
        for tpl in children(common, "TemplatePage"):
            loc = attr(tpl, "BaseLoc")
            if loc:
                templates[attr(tpl, "ID")] = resolve(loc, root_path)
    pages: list[Page] = []
    pages_el = child(doc, "Pages")
    for i, page_el in enumerate(children(pages_el, "Page") if pages_el is not None else []):
        loc = attr(page_el, "BaseLoc")
        content = resolve(loc, root_path) if loc else None
        box = default_box
        page_templates: list[tuple[str, str]] = []
        if content and pkg.exists(content):
            page_xml = pkg.xml(content)
            box = _page_box(page_xml) or default_box
            for tpl in children(page_xml, "Template"):
                path = templates.get(attr(tpl, "TemplateID"))
                if path:
                    page_templates.append((path, attr(tpl, "ZOrder", "Background")))
        pages.append(Page(i, attr(page_el, "ID") or str(i), content, box, page_templates))
    return OfdDocument(index, root_path, signatures_path, pages, max_unit)
