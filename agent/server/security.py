"""Checks made before and right after the WebSocket upgrade.

Before: `Host` must name the loopback address and our port exactly (DNS rebinding), `Origin` must be an
allowed extension origin, compared as a whole string (never a substring), and on Linux the TCP peer must
belong to this OS user. Any failure is HTTP 403 and no upgrade. `Origin` only stops web pages — a local
process can forge it — so after the upgrade the client must prove it holds the per-user pairing secret
with an HMAC over a fresh server nonce, before any other call. The server proves the same back, so the
extension can refuse to hand documents to a process squatting on the port.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import sys

NONCE_BYTES = 32
CLIENT_LABEL = b"sealbridge/v1 client"
SERVER_LABEL = b"sealbridge/v1 server"


def allowed_hosts(port: int) -> set[str]:
    return {f"127.0.0.1:{port}", f"[::1]:{port}", f"localhost:{port}"}


def host_ok(host: str | None, port: int) -> bool:
    """Exact match, port included: a rebinding attacker's Host is their own domain name."""
    if not host:
        return False
    return host.lower() in allowed_hosts(port)


def origin_ok(origin: str | None, allowed: set[str]) -> bool:
    """Whole-string equality with an allowed extension origin. Missing, "null", web pages: refused."""
    if not origin or origin == "null":
        return False
    return origin in allowed


# -- Linux: which OS user owns the peer's TCP socket ------------------------------------------------------


def _proc_net_entries(path: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    try:
        with open(path) as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) > 7:
                    out.append((cols[1], cols[2], int(cols[7])))
    except OSError:
        pass
    return out


def _hex_forms(ip: str, port: int) -> set[str]:
    """The forms an address takes in /proc/net/tcp{,6}: 32-bit words in host byte order, and an IPv4
    address also as v4-mapped IPv6 in tcp6."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped

    def words(raw: bytes) -> str:
        if sys.byteorder == "little":
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        return raw.hex().upper()

    forms = {f"{words(addr.packed)}:{port:04X}"}
    if isinstance(addr, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + addr.packed)
        forms.add(f"{words(mapped.packed)}:{port:04X}")
    return forms


def peer_uid(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid owning the client end of a loopback TCP connection, or None when it cannot be found."""
    if not sys.platform.startswith("linux"):
        return None
    client_forms = _hex_forms(peer[0], peer[1])  # the client's socket: its local address is our peer
    server_forms = _hex_forms(local[0], local[1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for loc, rem, uid in _proc_net_entries(table):
            if loc in client_forms and rem in server_forms:
                return uid
    return None


def _proc_net_readable() -> bool:
    return any(os.access(t, os.R_OK) for t in ("/proc/net/tcp", "/proc/net/tcp6"))


def peer_is_same_user(peer: tuple[str, int] | None, local: tuple[str, int] | None) -> bool:
    """On Linux: True only when the peer's socket is found and belongs to this user (fails closed — an
    accepted loopback connection is always in /proc/net/tcp{,6}; not finding it means something is off).
    Elsewhere, and where /proc/net is not readable at all, the check cannot be made: True."""
    if os.name != "posix" or not sys.platform.startswith("linux"):
        return True
    if not peer or not local:
        return False
    uid = peer_uid((peer[0], peer[1]), (local[0], local[1]))
    if uid is None:
        return not _proc_net_readable()
    return uid == os.getuid()


# -- HMAC challenge ---------------------------------------------------------------------------------------


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def _mac(secret: bytes, label: bytes, server_nonce: bytes, client_nonce: bytes, origin: str) -> str:
    msg = b"\x00".join([label, server_nonce, client_nonce, origin.encode("utf-8")])
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def client_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes, origin: str) -> str:
    """What the extension sends in `auth`: HMAC-SHA256(secret, label ‖ 0 ‖ server nonce ‖ 0 ‖ client nonce ‖ 0
    ‖ origin), hex. Binding the origin stops a proof from being replayed by another extension origin."""
    return _mac(secret, CLIENT_LABEL, server_nonce, client_nonce, origin)


def server_proof(secret: bytes, server_nonce: bytes, client_nonce: bytes, origin: str) -> str:
    return _mac(secret, SERVER_LABEL, server_nonce, client_nonce, origin)


def verify_client_proof(
    secret: bytes, server_nonce: bytes, client_nonce: bytes, origin: str, mac: str
) -> bool:
    expected = client_proof(secret, server_nonce, client_nonce, origin)
    return hmac.compare_digest(expected.encode(), mac.lower().encode())
