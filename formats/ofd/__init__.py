"""OFD packages (GB/T 33190): bounded reading, hardened XML, the signature model, text positions, writing."""

from formats.ofd.document import OfdDocument, Page, load_document
from formats.ofd.limits import DEFAULT_PACKAGE_LIMITS, PackageLimits
from formats.ofd.package import OfdPackage
from formats.ofd.signatures import (
    SM3_CHECK_METHODS,
    Reference,
    SignatureEntry,
    SignatureXml,
    StampAnnot,
    protects,
    read_signature_list,
    read_signature_xml,
)

__all__ = [
    "DEFAULT_PACKAGE_LIMITS",
    "SM3_CHECK_METHODS",
    "PackageLimits",
    "OfdDocument",
    "OfdPackage",
    "Page",
    "Reference",
    "SignatureEntry",
    "SignatureXml",
    "StampAnnot",
    "load_document",
    "protects",
    "read_signature_list",
    "read_signature_xml",
]
