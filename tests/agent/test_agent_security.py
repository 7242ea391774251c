"""Before-upgrade checks (Host, Origin, peer user) and the HMAC challenge, against a real listening agent."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import stat

import pytest

from agent.client import AgentClient, AgentError
from agent.config import AgentConfig, load_config, validate
from agent.server.security import client_proof, peer_uid
from formats.errors import SealBridgeError
from tests.support.agent_env import EXT, OTHER_EXT


async def raw_request(
    port: int, host: str | None, origin: str | None, path: str = "/v1", upgrade: bool = True
):
    """Send a hand-written HTTP/1.1 request (so Host and Origin are exactly what we say); return (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    if upgrade:
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    else:
        lines.append("Connection: close")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    body = b""
    if status != 101:
        length = next(
            (
                int(h.split(b":", 1)[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length:")
            ),
            0,
        )
        body = await reader.readexactly(length) if length else b""
    writer.close()
    return status, body


FOREIGN_ORIGINS = [
    "https://evil.example",
    "https://portal.example.cn",
    "http://127.0.0.1:8080",
    "http://localhost",
    OTHER_EXT,
    "null",
    None,
    "",
    EXT + "/",
    EXT + ".evil.example",
    EXT.upper(),
    "moz-extension://6f1c1a52-1f0e-4b7e-9a55-0c5b2e1d4f11",  # well formed, never paired
]


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
async def test_foreign_origin_gets_403_and_no_upgrade(agent, origin):
    status, body = await raw_request(agent.port, f"127.0.0.1:{agent.port}", origin)
    assert status == 403
    assert b"origin" in body


async def test_allowed_origin_upgrades(agent):
    for host in (f"127.0.0.1:{agent.port}", f"localhost:{agent.port}", f"[::1]:{agent.port}"):
        status, _ = await raw_request(agent.port, host, EXT)
        assert status == 101, host


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "evil.example",
        "127.0.0.1",
        "127.0.0.1:1",
        "localhost.evil.example:{port}",
        "0.0.0.0:{port}",
        "127.0.0.2:{port}",
        "[::ffff:127.0.0.1]:{port}",
        None,
    ],
)
async def test_wrong_host_gets_403(agent, host):
    h = host.format(port=agent.port) if host else None
    # HTTP/1.1 without Host is rejected by the HTTP parser itself (400); either way: no upgrade.
    expected = {403} if h else {400, 403}
    status, body = await raw_request(agent.port, h, EXT)
    assert status in expected
    status, _ = await raw_request(agent.port, h, None, path="/health", upgrade=False)
    assert status in expected


async def test_health(agent):
    status, body = await raw_request(
        agent.port, f"127.0.0.1:{agent.port}", None, path="/health", upgrade=False
    )
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["version"]


async def test_listens_on_loopback_only(agent):
    addrs = {addr[0] for addr in agent.runner.addresses}
    assert addrs and addrs <= {"127.0.0.1", "::1"}
    with pytest.raises(SealBridgeError):
        validate(AgentConfig(bind=("0.0.0.0",)))


async def test_wrong_hmac_is_refused_and_closed(agent):
    client = await AgentClient.open(agent.url, EXT)
    nonce = bytes.fromhex(client.challenge["params"]["nonce"])
    cnonce = secrets.token_bytes(32)
    wrong = client_proof(secrets.token_bytes(32), nonce, cnonce, EXT)  # a secret we were never paired with
    with pytest.raises(AgentError) as exc:
        await client.call("auth", {"client_nonce": cnonce.hex(), "mac": wrong})
    assert exc.value.code == "UNAUTHENTICATED"
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.close_code == 4401
    assert not client.frame_errors


async def test_proof_for_another_origin_is_refused(agent):
    client = await AgentClient.open(agent.url, EXT)
    nonce = bytes.fromhex(client.challenge["params"]["nonce"])
    cnonce = secrets.token_bytes(32)
    mac = client_proof(agent.secret, nonce, cnonce, OTHER_EXT)
    with pytest.raises(AgentError) as exc:
        await client.call("auth", {"client_nonce": cnonce.hex(), "mac": mac})
    assert exc.value.code == "UNAUTHENTICATED"
    await asyncio.wait_for(client.closed.wait(), 10)


async def test_call_before_auth_is_refused_and_closed(agent):
    client = await AgentClient.open(agent.url, EXT)
    with pytest.raises(AgentError) as exc:
        await client.call("hello", {})
    assert exc.value.code == "UNAUTHENTICATED"
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.close_code == 4401


async def test_binary_before_auth_is_refused(agent):
    client = await AgentClient.open(agent.url, EXT)
    await client.upload(b"%PDF-1.7 not yet")
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.close_code == 4401
    errors = [m for m in client.received if "error" in m]
    assert errors and errors[0]["error"]["data"]["code"] == "UNAUTHENTICATED"


async def test_silent_client_is_closed(agent_factory):
    from agent.config import Limits

    agent = await agent_factory(limits=Limits(auth_timeout_s=0.5))
    client = await AgentClient.open(agent.url, EXT)
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.close_code == 4401


async def test_auth_then_hello(agent):
    client = await AgentClient.authed(agent.url, EXT, agent.secret)
    res = await client.call("hello", {"client": "tests", "protocol": 1})
    assert res["agent"] == "sealbridge" and res["protocol"] == 1
    with pytest.raises(AgentError) as exc:  # a second auth is a conflict, not a re-login
        await client.call("auth", {"client_nonce": "00" * 32, "mac": "00" * 32})
    assert exc.value.code == "CONFLICT"
    assert not client.frame_errors
    await client.close()


async def test_peer_uid_lookup_finds_our_own_socket(agent):
    """The per-OS-user check is live: the agent can see who owns a loopback client socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", agent.port)
    try:
        sock = writer.get_extra_info("socket")
        uid = peer_uid(sock.getsockname()[:2], sock.getpeername()[:2])
        assert uid == os.getuid()
    finally:
        writer.close()


def test_secret_file_is_private(agent_factory, tmp_path):
    from agent.pairing import load_or_create_secret

    cfg = load_config(env={"SEALBRIDGE_HOME": str(tmp_path / "h")})
    secret = load_or_create_secret(cfg)
    assert len(secret) == 32
    mode = stat.S_IMODE(cfg.secret_path.stat().st_mode)
    assert mode == 0o600
    assert load_or_create_secret(cfg) == secret
    cfg.secret_path.chmod(0o644)
    with pytest.raises(SealBridgeError) as exc:
        load_or_create_secret(cfg)
    assert exc.value.code == "FORBIDDEN"
