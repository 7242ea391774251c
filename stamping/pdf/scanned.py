"""A signature dictionary as the verifier's scans find it (stamping.pdf.sigfields, stamping.pdf.sigscan)."""

from __future__ import annotations

from dataclasses import dataclass

#: SubFilters pyHanko validates (ISO 32000-2 §12.8.3 and ETSI EN 319 142).
PYHANKO_SUBFILTERS = frozenset(
    {"/adbe.pkcs7.detached", "/adbe.pkcs7.sha1", "/ETSI.CAdES.detached", "/ETSI.RFC3161"}
)
#: How deep the /AcroForm field tree is followed.
MAX_FIELD_DEPTH = 32


@dataclass(frozen=True)
class ScannedSignature:
    field_name: str
    subfilter: str  # as written, with the leading slash; "" when absent
    filter: str
    byte_range: tuple[int, ...]
    contents_len: int
    pages: tuple[int, ...]  # 1-based pages of the field's widgets
    #: (object number, generation) of the field dictionary; None for a direct object. Fields are matched
    #: with pyHanko's by this reference, not by name: two fields may share a name, and a name lookup would
    #: report one signature's result for both and never check the other.
    field_ref: tuple[int, int] | None = None

    @property
    def pyhanko_handles(self) -> bool:
        return self.subfilter in PYHANKO_SUBFILTERS
