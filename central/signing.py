"""Signed platform responses: SM2-with-SM3 over the canonical JSON bytes of `response`.

Envelope: {"response": {...,"produced_at":…, "platform_cert": sha256}, "signature": base64 DER,
"signature_algorithm": "1.2.156.10197.1.501", "cert_sha256": sha256 of the signing certificate}.
The certificate's hash is inside the signed part too, so the envelope cannot be re-pointed to another key.
"""

from __future__ import annotations

import base64
from typing import Any

from central.timeutil import iso, utcnow
from formats.canonjson import canonical_json
from formats.gm import OID_SM2_SM3, SM2PrivateKey

RESPONSE_VERSION = 1


def sign_response(key: SM2PrivateKey, cert_sha256: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = dict(body)
    response.update(
        {"v": RESPONSE_VERSION, "type": kind, "produced_at": iso(utcnow()), "platform_cert": cert_sha256}
    )
    signature = key.sign(canonical_json(response))
    return {
        "response": response,
        "signature": base64.b64encode(signature).decode("ascii"),
        "signature_algorithm": OID_SM2_SM3,
        "cert_sha256": cert_sha256,
    }
