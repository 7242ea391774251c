"""Signatures.xml and Signature.xml (GB/T 33190 §18), read by element name, never by position."""

from __future__ import annotations

from dataclasses import dataclass, field

from formats.errors import SealBridgeError
from formats.ofd.locs import resolve
from formats.ofd.package import OfdPackage
from formats.ofd.xmlsafe import attr, child, child_text, children, local, parse_box, parse_xml, text

#: CheckMethod spellings for SM3 seen in real files (dms360 writes "…401.2").
SM3_CHECK_METHODS = {"1.2.156.10197.1.401", "1.2.156.10197.1.401.2", "sm3"}


@dataclass
class SignatureEntry:
    """One <Signature> of Signatures.xml."""

    id: str
    type: str  # "Seal" or "Sign"
    path: str  # absolute path of its Signature.xml


@dataclass
class Reference:
    file_ref: str  # as written
    path: str  # resolved absolute package path
    check_value: str  # base64 as written


@dataclass
class StampAnnot:
    id: str
    page_ref: str
    boundary: tuple[float, float, float, float] | None
    clip: tuple[float, float, float, float] | None


@dataclass
class SignatureXml:
    path: str  # absolute path of Signature.xml
    raw: bytes  # its exact bytes: the signed data
    provider: str
    method: str
    date_time: str
    check_method: str
    references: list[Reference]
    stamp_annots: list[StampAnnot]
    seal_path: str | None
    signed_value_path: str
    extra: dict[str, str] = field(default_factory=dict)


def read_signature_list(pkg: OfdPackage, path: str) -> tuple[list[SignatureEntry], str]:
    """The entries of Signatures.xml (in file order) and its MaxSignId (the last one if repeated)."""
    root = pkg.xml(path)
    if local(root) != "Signatures":
        raise SealBridgeError("DOC_MALFORMED", f"{path}: root is not Signatures")
    entries: list[SignatureEntry] = []
    max_id = ""
    for el in root:
        name = local(el)
        if name == "MaxSignId":
            max_id = text(el)
        elif name == "Signature":
            loc = attr(el, "BaseLoc")
            if not loc:
                raise SealBridgeError("DOC_MALFORMED", f"{path}: a Signature without BaseLoc")
            entries.append(
                SignatureEntry(attr(el, "ID"), attr(el, "Type", "Seal") or "Seal", resolve(loc, path))
            )
    return entries, max_id


def read_signature_xml(pkg: OfdPackage, path: str) -> SignatureXml:
    raw = pkg.read(path, pkg.limits.max_xml_bytes)
    root = parse_xml(raw, path, pkg.limits)
    if local(root) != "Signature":
        raise SealBridgeError("DOC_MALFORMED", f"{path}: root is not Signature")
    info = child(root, "SignedInfo")
    if info is None:
        raise SealBridgeError("DOC_MALFORMED", f"{path}: no SignedInfo")
    signed_value = child_text(root, "SignedValue")
    if not signed_value:
        raise SealBridgeError("DOC_MALFORMED", f"{path}: no SignedValue")
    refs_el = child(info, "References")
    references: list[Reference] = []
    check_method = ""
    if refs_el is not None:
        check_method = attr(refs_el, "CheckMethod", "MD5")
        found = list(children(refs_el, "Reference"))
        if len(found) > pkg.limits.max_entries:
            raise SealBridgeError(
                "DOC_TOO_LARGE",
                f"{path}: {len(found)} References; a package holds at most {pkg.limits.max_entries} files",
            )
        for ref in found:
            file_ref = attr(ref, "FileRef")
            references.append(Reference(file_ref, resolve(file_ref, path), child_text(ref, "CheckValue")))
    annots = [
        StampAnnot(
            attr(a, "ID"), attr(a, "PageRef"), parse_box(attr(a, "Boundary")), parse_box(attr(a, "Clip"))
        )
        for a in children(info, "StampAnnot")
    ]
    seal_el = child(info, "Seal")
    seal_loc = child_text(seal_el, "BaseLoc") if seal_el is not None else ""
    provider_el = child(info, "Provider")
    return SignatureXml(
        path=path,
        raw=raw,
        provider=attr(provider_el, "ProviderName") if provider_el is not None else "",
        method=child_text(info, "SignatureMethod"),
        date_time=child_text(info, "SignatureDateTime"),
        check_method=check_method,
        references=references,
        stamp_annots=annots,
        seal_path=resolve(seal_loc, path) if seal_loc else None,
        signed_value_path=resolve(signed_value, path),
    )


def protects(sig: SignatureXml, path: str) -> bool:
    """True if `sig` has a Reference to `path` (case-insensitive, as zip lookups are)."""
    target = path.lower()
    return any(r.path.lower() == target for r in sig.references)
