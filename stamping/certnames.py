"""People's names from certificates: CN → name, O → organisation, the USCC where the subject carries one.

A report shows "张三 · 宿迁示例科技有限公司" rather than "Common Name: 张三, Organizational Unit: …"; the
full distinguished name stays in `subject` for those who need it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from asn1crypto import x509

from formats.uscc import is_uscc
from stamping.report import Check, Reason, SignerInfo, reason

_USCC_IN_TEXT = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
# Where CAs put the USCC: organizationIdentifier (often "NTRCN-…"), serialNumber, OU, or the CN itself.
_USCC_FIELDS = (
    "organization_identifier",
    "2.5.4.97",
    "serial_number",
    "organizational_unit_name",
    "common_name",
)


def _values(name: x509.Name, field: str) -> list[str]:
    out: list[str] = []
    for rdn in name.chosen:
        for attr in rdn:
            if attr["type"].native == field or attr["type"].dotted == field:
                try:
                    out.append(str(attr["value"].native))
                except Exception:  # noqa: BLE001 - an undecodable attribute is skipped, not fatal
                    continue
    return out


def _first(name: x509.Name, field: str) -> str | None:
    values = _values(name, field)
    return values[-1] if values else None


def uscc_of(name: x509.Name) -> str | None:
    for field in _USCC_FIELDS:
        for value in _values(name, field):
            for candidate in _USCC_IN_TEXT.findall(value.upper()):
                if is_uscc(candidate):
                    return candidate
    return None


def party(name: x509.Name) -> dict[str, str | None]:
    """{"name", "organisation", "uscc"} of a certificate subject or issuer."""
    cn, org = _first(name, "common_name"), _first(name, "organization_name")
    return {"name": cn or org or _safe_human(name), "organisation": org, "uscc": uscc_of(name)}


def display_name(name: x509.Name) -> str:
    """One short name for a subject: CN, else O, else the whole name."""
    return _first(name, "common_name") or _first(name, "organization_name") or _safe_human(name)


def _safe_human(name: x509.Name) -> str:
    try:
        return name.human_friendly
    except Exception:  # noqa: BLE001
        return ""


def signer_info(cert: x509.Certificate | None) -> SignerInfo | None:
    if cert is None:
        return None
    try:
        der = cert.dump()
    except Exception:  # noqa: BLE001 - a damaged certificate: no signer line
        return None
    info = _signer_info(der)
    return dataclasses.replace(info) if info is not None else None  # a copy: reports may change theirs


@lru_cache(maxsize=128)
def _signer_info(der: bytes) -> SignerInfo | None:
    # Once per certificate and process: reading the names costs a millisecond or more, and a batch meets
    # the same signers again and again.
    try:
        cert = x509.Certificate.load(der)
        who = party(cert.subject)
        validity = cert["tbs_certificate"]["validity"]
        return SignerInfo(
            subject=cert.subject.human_friendly,
            serial=format(cert.serial_number, "x"),
            issuer=display_name(cert.issuer),
            name=who["name"] or "",
            organisation=who["organisation"],
            uscc=who["uscc"],
            valid_from=validity["not_before"].native.isoformat(),
            valid_to=validity["not_after"].native.isoformat(),
        )
    except Exception:  # noqa: BLE001 - a damaged certificate is reported by the checks; no signer line then
        return None


def validity_at_signing(
    cert: x509.Certificate, at: datetime, now: datetime
) -> tuple[Check | None, list[Reason]]:
    """(a failed Check when the certificate was not valid at `at`, else None; notes such as CERT_EXPIRED_NOW)."""
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if at < not_before:
        return Check.failed("CERT_NOT_YET_VALID_AT_SIGNING", signed_at=at, valid_from=not_before), []
    if at > not_after:
        return Check.failed("CERT_EXPIRED_AT_SIGNING", signed_at=at, valid_to=not_after), []
    return None, ([] if now <= not_after else [reason("CERT_EXPIRED_NOW", valid_to=not_after)])


def anchor_summary(der: bytes) -> dict[str, Any]:
    """A trust anchor as the report's policy lists it: who, and the SHA-256 of its DER."""
    return dict(_anchor_summary(bytes(der)))


@lru_cache(maxsize=256)
def _anchor_summary(der: bytes) -> dict[str, Any]:
    # Once per process: every report of a batch lists the same anchors.
    sha = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.Certificate.load(der)
        return {"name": display_name(cert.subject), "subject": cert.subject.human_friendly, "sha256": sha}
    except Exception:  # noqa: BLE001
        return {"name": None, "subject": None, "sha256": sha}
