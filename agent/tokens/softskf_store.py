"""Writes devices into the software SKF key's store (native/softskf, SOFTSKF_HOME) for dev-pki and tests.

The layout is the C library's (see native/softskf/softskf.c and docs/tokens.md): one directory per device,
one per application (with the SM3 of its PINs), one per container (PEM key, DER certificate), and the
application file `sealbridge.seals` holding the seals. Files are written atomically, secrets with mode 0600.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from stamping.fileout import atomic_write

DEVICE = "SealBridge-SoftSKF-1"
APPLICATION = "SealBridge"
CONTAINER = "sm2-signer"
ADMIN_PIN = "admin123456"


def pin_digest(pin: str) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(pin.encode("utf-8"))
    return h.finalize().hex().encode() + b"\n"


def write_device(
    home: Path,
    *,
    pin: str,
    key_pem: bytes,
    cert_der: bytes | None,
    seals: Sequence[bytes] = (),
    device: str = DEVICE,
    application: str = APPLICATION,
    container: str = CONTAINER,
    serial: str = "",
) -> list[Path]:
    """Create (or replace the files of) one device with one application and one SM2 container; returns the
    files written."""
    dev = Path(home) / device
    app = dev / application
    con = app / "containers" / container
    con.mkdir(parents=True, exist_ok=True)
    (app / "files").mkdir(exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: bytes, mode: int) -> None:
        atomic_write(path, data, mode)
        written.append(path)

    serial = serial or "SSKF-" + hashlib.sha256(device.encode()).hexdigest()[:10].upper()
    put(dev / "serial", serial.encode() + b"\n", 0o644)
    put(app / "user.pin", pin_digest(pin), 0o600)
    put(app / "admin.pin", pin_digest(ADMIN_PIN), 0o600)
    (app / "retries").unlink(missing_ok=True)  # a re-made device starts with all its PIN tries
    put(con / "sign.key", key_pem, 0o600)
    if cert_der is not None:
        put(con / "sign.cer", cert_der, 0o644)
    if seals:
        put(app / "files" / "sealbridge.seals", b"".join(seals), 0o644)
    return written
