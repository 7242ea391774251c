"""Pairing: the per-user secret the extension proves it holds, and the two ways it reaches the extension.

* The secret is 256 random bits in a file only this OS user can read (0600, created with O_EXCL so a
  racing process cannot plant its own). Another OS user on the same machine cannot authenticate.
* `sealbridge native-host` is the native-messaging host: the browser starts it for our extension only
  (the host manifest's `allowed_origins`/`allowed_extensions`), it answers with the port and the secret,
  and registers a Firefox `moz-extension://<uuid>` origin (random per install) as allowed.
* `sealbridge pair` prints a pairing code for browsers without native messaging; the user pastes it into
  the extension's options page. The code carries the port and the secret, so it is shown only in the
  user's own terminal.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

from agent import __version__
from agent.config import MOZ_ORIGIN_RE, AgentConfig, ensure_private_dir, is_extension_origin
from formats.errors import SealBridgeError
from stamping.fileout import atomic_write

SECRET_BYTES = 32
CODE_PREFIX = "SBP1"
NATIVE_HOST_NAME = "cn.sealbridge.agent"
MAX_NATIVE_MESSAGE = 64 * 1024  # requests to the host are tiny; refuse anything large


def _write_private_file(path: Path, data: bytes) -> None:
    """Atomically write a 0600 file in a private folder (stamping.fileout.atomic_write: its temp file is
    created with O_EXCL, so a racing process cannot plant one)."""
    ensure_private_dir(path.parent)
    atomic_write(path, data, 0o600, error_code="INTERNAL")


def load_or_create_secret(cfg: AgentConfig) -> bytes:
    path = cfg.secret_path
    if not path.exists():
        ensure_private_dir(path.parent)
        # Not atomic_write: the first secret is created with O_EXCL so that two processes starting at once
        # agree on one secret (the loser reads the winner's) instead of the last one silently replacing it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(SECRET_BYTES) + "\n")
                f.flush()
                os.fsync(f.fileno())
    st = path.stat()
    if os.name == "posix" and (st.st_mode & 0o077 or st.st_uid != os.getuid()):
        raise SealBridgeError("FORBIDDEN", f"{path} must be owned by this user and not readable by others")
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise SealBridgeError("INTERNAL", f"{path} is not a hex secret") from None
    if len(secret) != SECRET_BYTES:
        raise SealBridgeError("INTERNAL", f"{path} holds a secret of the wrong length")
    return secret


def rotate_secret(cfg: AgentConfig) -> bytes:
    """A fresh secret: every paired extension must pair again."""
    secret = secrets.token_bytes(SECRET_BYTES)
    _write_private_file(cfg.secret_path, (secret.hex() + "\n").encode())
    return secret


# -- extension origins registered by pairing (Firefox's per-install UUID origins) --------------------------


def paired_origins(cfg: AgentConfig) -> set[str]:
    try:
        data = json.loads(cfg.paired_origins_path.read_text())
    except (OSError, ValueError):
        return set()
    return {o for o in data.get("origins", []) if isinstance(o, str) and is_extension_origin(o)}


def register_origin(cfg: AgentConfig, origin: str) -> None:
    if not MOZ_ORIGIN_RE.match(origin):
        raise SealBridgeError(
            "BAD_REQUEST", f"only moz-extension://<uuid> origins are registered, got {origin!r}"
        )
    current = paired_origins(cfg)
    if origin in current:
        return
    current.add(origin)
    _write_private_file(cfg.paired_origins_path, json.dumps({"origins": sorted(current)}, indent=1).encode())


def allowed_origins(cfg: AgentConfig) -> set[str]:
    """Admin/CLI-listed extension origins plus the ones registered by pairing; re-read per connection."""
    return set(cfg.allowed_origins) | paired_origins(cfg)


# -- pairing code -----------------------------------------------------------------------------------------


def pairing_code(cfg: AgentConfig, secret: bytes) -> str:
    b32 = base64.b32encode(secret).decode().rstrip("=")
    groups = "-".join(b32[i : i + 4] for i in range(0, len(b32), 4))
    return f"{CODE_PREFIX}-{cfg.port}-{groups}"


def parse_pairing_code(code: str) -> tuple[int, bytes]:
    """The inverse of pairing_code (the extension does the same in JavaScript)."""
    parts = code.strip().upper().split("-")
    if len(parts) < 3 or parts[0] != CODE_PREFIX or not parts[1].isdigit():
        raise SealBridgeError("BAD_REQUEST", "not a SealBridge pairing code")
    b32 = "".join(parts[2:])
    try:
        secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except ValueError:
        raise SealBridgeError("BAD_REQUEST", "pairing code is damaged") from None
    if len(secret) != SECRET_BYTES:
        raise SealBridgeError("BAD_REQUEST", "pairing code has the wrong length")
    return int(parts[1]), secret


# -- runtime file -----------------------------------------------------------------------------------------


def write_runtime_file(cfg: AgentConfig, port: int) -> None:
    info = {"port": port, "pid": os.getpid(), "version": __version__, "url": f"ws://127.0.0.1:{port}/v1"}
    _write_private_file(cfg.runtime_file, json.dumps(info).encode())


def read_runtime_file(cfg: AgentConfig) -> dict[str, Any] | None:
    try:
        return json.loads(cfg.runtime_file.read_text())
    except (OSError, ValueError):
        return None


def remove_runtime_file(cfg: AgentConfig) -> None:
    info = read_runtime_file(cfg)
    if info and info.get("pid") == os.getpid():
        cfg.runtime_file.unlink(missing_ok=True)


# -- native messaging host (Chrome/Firefox length-prefixed JSON on stdin/stdout) --------------------------


def read_native_message(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(4)
    if not header:
        return None
    if len(header) != 4:
        raise SealBridgeError("BAD_REQUEST", "truncated native message header")
    (length,) = struct.unpack("=I", header)  # native byte order, as the browsers write it
    if length > MAX_NATIVE_MESSAGE:
        raise SealBridgeError("DOC_TOO_LARGE", f"native message of {length} bytes")
    body = stream.read(length)
    if len(body) != length:
        raise SealBridgeError("BAD_REQUEST", "truncated native message")
    try:
        msg = json.loads(body)
    except ValueError:
        raise SealBridgeError("BAD_REQUEST", "native message is not JSON") from None
    if not isinstance(msg, dict):
        raise SealBridgeError("BAD_REQUEST", "native message must be an object")
    return msg


def write_native_message(stream: BinaryIO, msg: dict[str, Any]) -> None:
    body = json.dumps(msg).encode()
    stream.write(struct.pack("=I", len(body)) + body)
    stream.flush()


def handle_native_request(cfg: AgentConfig, msg: dict[str, Any], caller: str | None) -> dict[str, Any]:
    """One request from the extension. `caller` is what the browser passed on the command line
    (Chrome: the caller origin `chrome-extension://<id>/`)."""
    kind = msg.get("type")
    if kind != "getPairing":
        return {
            "type": "error",
            "error": SealBridgeError("BAD_REQUEST", f"unknown request {kind!r}").to_dict(),
        }
    origin = msg.get("origin")
    if isinstance(origin, str) and MOZ_ORIGIN_RE.match(origin):
        # Firefox: only our extension can start this host (allowed_extensions), so its own origin is trusted.
        register_origin(cfg, origin)
    elif caller and caller.startswith("chrome-extension://"):
        if caller.rstrip("/") not in cfg.allowed_origins:
            err = SealBridgeError("ORIGIN_NOT_ALLOWED", f"{caller} is not in the agent's allowed origins")
            return {"type": "error", "error": err.to_dict()}
    secret = load_or_create_secret(cfg)
    runtime = read_runtime_file(cfg) or {}
    port = int(runtime.get("port") or cfg.port)
    return {
        "type": "pairing",
        "version": __version__,
        "port": port,
        "url": f"ws://127.0.0.1:{port}/v1",
        "secret": secret.hex(),
        "running": bool(runtime),
    }


def run_native_host(
    cfg: AgentConfig, argv: list[str], stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> int:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    caller = next((a for a in argv if a.startswith(("chrome-extension://", "moz-extension://"))), None)
    while True:
        try:
            msg = read_native_message(stdin)
        except SealBridgeError as err:
            write_native_message(stdout, {"type": "error", "error": err.to_dict()})
            return 2
        if msg is None:
            return 0
        try:
            reply = handle_native_request(cfg, msg, caller)
        except SealBridgeError as err:
            reply = {"type": "error", "error": err.to_dict()}
        write_native_message(stdout, reply)


def native_host_manifest(
    executable: str, chrome_origins: list[str], firefox_ids: list[str] | None = None
) -> dict:
    """The host manifest to install (Chrome: allowed_origins; Firefox: allowed_extensions)."""
    manifest: dict[str, Any] = {
        "name": NATIVE_HOST_NAME,
        "description": "SealBridge agent pairing",
        "path": executable,
        "type": "stdio",
    }
    if firefox_ids:
        manifest["allowed_extensions"] = firefox_ids
    else:
        manifest["allowed_origins"] = [o.rstrip("/") + "/" for o in chrome_origins]
    return manifest
