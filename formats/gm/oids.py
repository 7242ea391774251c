"""Object identifiers of the Chinese commercial cryptography (GM) algorithms, and their asn1crypto names.

asn1crypto knows none of these; pyHanko and our own CMS/X.509 code need them registered before parsing.
"""

from __future__ import annotations

#: SM2 curve (parameter of id-ecPublicKey in SM2 certificates; GM/T 0006).
OID_SM2 = "1.2.156.10197.1.301"
#: SM2-1 digital signature (digestEncryptionAlgorithm in GM/T 0010 SignedData).
OID_SM2_SIGN = "1.2.156.10197.1.301.1"
#: SM3 hash.
OID_SM3 = "1.2.156.10197.1.401"
#: SM2 signature with SM3 ("sm2sign-with-sm3"); the only SM2 signature algorithm we emit.
OID_SM2_SM3 = "1.2.156.10197.1.501"
#: GM/T 0010 (GB/T 35275) content types.
OID_GM_DATA = "1.2.156.10197.6.1.4.2.1"
OID_GM_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
#: id-ecPublicKey (RFC 5480); SM2 SPKIs use it with the SM2 named curve.
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

#: Signature algorithm OIDs that mean "SM2 with SM3 and the default user ID".
SM2_SIGNATURE_OIDS = frozenset({OID_SM2_SM3, OID_SM2_SIGN})

#: User ID for the Z value (GM/T 0009 default); every producer we know of uses it.
DEFAULT_ID = b"1234567812345678"

_registered = False


def add_oid_name(cls: type, oid: str, name: str) -> None:
    """Map `oid` to `name` in an asn1crypto ObjectIdentifier class, both ways.

    asn1crypto builds a class's reverse map (name -> OID) once, the first time the class is used, and never
    again; so the reverse map is updated here too rather than cleared, whatever was imported first."""
    cls._map.setdefault(oid, name)
    if cls._reverse_map is not None:
        cls._reverse_map.setdefault(cls._map[oid], oid)


def complete_reverse_map(cls: type) -> None:
    """Give every name in an OID class's map its way back to the OID, if the name->OID map was built already."""
    if cls._map is not None and cls._reverse_map is not None:
        for oid, name in list(cls._map.items()):
            cls._reverse_map.setdefault(name, oid)


def register_asn1crypto_oids() -> None:
    """Teach asn1crypto the GM OIDs (idempotent; safe to call from every entry point)."""
    global _registered
    if _registered:
        return
    # asn1crypto's tsp and pdf modules add names to cms/x509 classes when imported (ContentType 'tst_info',
    # CMSAttributeType 'signing_certificate_v2', ...) but only to the OID->name map. If such a class was used
    # before that import, its name->OID map was already built without them, and ContentType('tst_info') —
    # or re-encoding a parsed timestamp token, which asn1crypto does when a length ends in 0x80 — fails with
    # "invalid literal for int()". They are imported here, first, and the maps they extend are completed.
    from asn1crypto import algos, cms, keys, pdf, tsp, x509  # noqa: F401 - pdf and tsp for their side effects

    for cls in (cms.ContentType, cms.CMSAttributeType, x509.ExtensionId, x509.KeyPurposeId):
        complete_reverse_map(cls)

    add_oid_name(algos.DigestAlgorithmId, OID_SM3, "sm3")
    add_oid_name(algos.SignedDigestAlgorithmId, OID_SM2_SM3, "sm2_sm3")
    add_oid_name(algos.SignedDigestAlgorithmId, OID_SM2_SIGN, "sm2_1")
    # A distinct name: mapping the OID onto 'signed_data' would change how standard CMS encodes.
    add_oid_name(cms.ContentType, OID_GM_SIGNED_DATA, "gm_signed_data")
    add_oid_name(cms.ContentType, OID_GM_DATA, "gm_data")
    cms.ContentInfo._oid_specs["gm_signed_data"] = cms.SignedData
    # Key length only (no name): PKCS#8 wrapping needs it; the curve keeps reading as its dotted OID.
    keys.NamedCurve._key_sizes.setdefault(OID_SM2, 32)
    _registered = True
