"""JSON-ready descriptions of seals and seal signatures (the `sealbridge seal inspect` shape).

The keys required by the CLI contract come first (kind, version, esID, name, type, maker_signature,
picture, valid_from, valid_to, certs; and for signatures signature, time, property_info, seal); the rest
are additive details.
"""

from __future__ import annotations

from typing import Any

from formats.errors import SealBridgeError
from formats.ses.kinds import describe_type
from formats.ses.model import Seal, SesSignature
from formats.ses.verify import signer_in_seal, verify_maker, verify_signature_value


def cert_info(cert_der: bytes) -> dict[str, Any]:
    """formats.x509.cert_summary, or an error entry for a certificate that does not parse."""
    from formats.x509 import cert_summary

    try:
        return cert_summary(cert_der)
    except SealBridgeError as err:
        return {"error": err.detail or err.code, "der_bytes": len(cert_der)}
    except Exception as exc:  # a damaged certificate inside a seal must not stop the inspection
        return {"error": f"unreadable certificate: {type(exc).__name__}", "der_bytes": len(cert_der)}


def seal_summary(seal: Seal, backend: str | None = None) -> dict[str, Any]:
    status, detail = verify_maker(seal, backend=backend)
    out: dict[str, Any] = {
        "kind": "seal",
        "version": seal.version,
        "esID": seal.esid,
        "name": seal.name,
        "type": seal.type,
        "maker_signature": status,
        "picture": {
            "type": seal.picture.type,
            "width_mm": seal.picture.width_mm,
            "height_mm": seal.picture.height_mm,
        },
        "valid_from": seal.valid_start.isoformat(),
        "valid_to": seal.valid_end.isoformat(),
        "certs": [cert_info(c) for c in seal.certs],
        # additive details
        "header_version": seal.header_version,
        "vid": seal.vid,
        "type_label": describe_type(seal.type, seal.version),
        "created": seal.created.isoformat(),
        "cert_list_type": seal.cert_list_type,
        "maker_signature_detail": detail,
        "maker_cert": cert_info(seal.maker_cert) if seal.maker_cert else None,
        "signature_algorithm": seal.sign_alg_oid,
    }
    if seal.cert_digests:
        out["cert_digests"] = [{"type": d.algorithm, "value": d.value.hex()} for d in seal.cert_digests]
    if seal.cert_ids:
        out["cert_ids"] = list(seal.cert_ids)
    if seal.timestamp is not None:
        out["timestamp"] = True
    if seal.warnings:
        out["warnings"] = list(seal.warnings)
    return out


def signature_summary(sig: SesSignature, backend: str | None = None) -> dict[str, Any]:
    status, detail = verify_signature_value(sig, backend=backend)
    out: dict[str, Any] = {
        "kind": "signature",
        "version": sig.version,
        "signature": status,
        "time": sig.time.isoformat() if sig.time else sig.time_text,
        "property_info": sig.property_info,
        "seal": seal_summary(sig.seal, backend=backend),
        # additive details
        "signature_detail": detail,
        "tbs_version": sig.tbs_version,
        "data_hash": sig.data_hash.hex(),
        "signer": cert_info(sig.signer_cert) if sig.signer_cert else None,
        "signer_in_seal": signer_in_seal(sig.seal, sig.signer_cert),
        "signature_algorithm": sig.sign_alg_oid,
        "timestamp": sig.timestamp is not None,
    }
    if sig.warnings:
        out["warnings"] = list(sig.warnings)
    return out


def report_seal_info(seal: Seal) -> dict[str, Any]:
    """Keyword arguments for stamping.report.SealInfo (formats cannot import stamping; the caller builds it).

    The picture is included as base64 PNG when it is a raster picture; vector (OFD) pictures give None.
    """
    import base64

    from formats.picture import picture_to_png

    png = picture_to_png(seal.picture.type, seal.picture.data)
    return {
        "esID": seal.esid,
        "name": seal.name,
        "version": seal.version,
        "type": seal.type,
        "picture_png_base64": base64.b64encode(png).decode("ascii") if png else None,
        "picture_width_mm": float(seal.picture.width_mm),
        "picture_height_mm": float(seal.picture.height_mm),
    }
