"""The GB/T 38540 seal inside a PDF signature: a CMS signed attribute under SealBridge's own OID.

    SealBridgeSeal ATTRIBUTE ::= { WITH SYNTAX SESeal ID id-sealbridge-seal }
    id-sealbridge-seal OBJECT IDENTIFIER ::= { 2 25 325754713898753620882212272006325673523 }

The OID is a UUID OID (ITU-T X.667, arc 2.25), so it needs no registration and clashes with nobody.
The attribute holds exactly one value: the SESeal DER, byte for byte as issued by the seal maker (not
wrapped in an OCTET STRING), so the maker's signature can be checked over the original SES_SealInfo bytes.
Being a *signed* attribute, the seal is covered by the document signature; CMS verifiers that do not
know the OID ignore it (RFC 5652 §5.3 allows any attribute), so Adobe and pyHanko still validate.
"""

from __future__ import annotations

from asn1crypto import cms, core
from pyhanko.sign.attributes import CMSAttributeProvider

from formats.gm.oids import add_oid_name

OID_SEALBRIDGE_SEAL = "2.25.325754713898753620882212272006325673523"
ATTR_NAME = "sealbridge_seal"

_registered = False


class _SetOfAny(core.SetOf):
    _child_spec = core.Any


def register() -> None:
    """Name the attribute for asn1crypto (idempotent). Values stay `Any`, so their bytes are kept as read."""
    global _registered
    if _registered:
        return
    add_oid_name(cms.CMSAttributeType, OID_SEALBRIDGE_SEAL, ATTR_NAME)
    cms.CMSAttribute._oid_specs[ATTR_NAME] = _SetOfAny
    _registered = True


class SealAttributeProvider(CMSAttributeProvider):
    """Adds the seal to the signed attributes; the value is the same in pyHanko's dry (size) run."""

    attribute_type = ATTR_NAME

    def __init__(self, seal_der: bytes) -> None:
        register()
        self._seal_der = seal_der

    async def build_attr_value(self, dry_run: bool = False) -> core.Any:
        return core.Any.load(self._seal_der)


def seal_from_signed_attrs(signed_attrs: cms.CMSAttributes | None) -> bytes | None:
    """The SESeal DER carried in the signed attributes, or None. Several values/attributes: the first."""
    register()
    if not signed_attrs:
        return None
    for attr in signed_attrs:
        if attr["type"].dotted != OID_SEALBRIDGE_SEAL:
            continue
        values = attr["values"]
        if len(values) == 0:
            return None
        return values[0].dump()
    return None
