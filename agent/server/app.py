"""The agent's aiohttp application: GET /health and the WebSocket at /v1, on loopback only.

Every request's Host is checked (DNS rebinding); the /v1 upgrade additionally needs an allowed extension
Origin and, on Linux, a TCP peer owned by this OS user. Failures are plain HTTP 403 — the handshake never
completes, so a refused page learns nothing but the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any

from aiohttp import web

from agent import __version__
from agent.audit import AuditLog
from agent.config import AgentConfig
from agent.pairing import allowed_origins, load_or_create_secret, remove_runtime_file, write_runtime_file
from agent.server.context import AgentContext
from agent.server.logs import log_event
from agent.server.protocol import HEADER_SIZE
from agent.server.security import host_ok, origin_ok, peer_is_same_user
from agent.server.session import Session

CTX_KEY = web.AppKey("ctx", AgentContext)
PORT_KEY = web.AppKey("port", int)


def _forbidden(why: str, request: web.Request) -> web.Response:
    log_event(
        "refused",
        logging.WARNING,
        why=why,
        path=request.path,
        host=request.headers.get("Host"),
        origin=request.headers.get("Origin"),
    )
    return web.Response(status=403, text=f"forbidden: {why}\n")


@web.middleware
async def host_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    port = request.app[PORT_KEY]
    if not host_ok(request.headers.get("Host"), port):
        return _forbidden("host", request)
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def websocket(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX_KEY]
    origin = request.headers.get("Origin")
    if not origin_ok(origin, await asyncio.to_thread(allowed_origins, ctx.cfg)):
        return _forbidden("origin", request)
    if ctx.cfg.check_peer_user:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        local = request.transport.get_extra_info("sockname") if request.transport else None
        same = await asyncio.to_thread(peer_is_same_user, peer, local)
        if not same:
            return _forbidden("peer belongs to another OS user", request)
    lim = ctx.cfg.limits
    ws = web.WebSocketResponse(
        max_msg_size=max(lim.max_chunk_bytes + HEADER_SIZE, lim.max_text_bytes) + 1024,
        # No permessage-deflate: documents are mostly compressed already, deflating 20 MB costs seconds, and
        # compressing secrets next to attacker-chosen data is a known leak pattern.
        compress=False,
        heartbeat=None,  # the extension sends its own keepalive; a lost peer ends with the TCP connection
        autoping=True,
    )
    await ws.prepare(request)
    assert origin is not None
    await Session(ctx, ws, origin).run()
    return ws


def create_app(ctx: AgentContext, port: int | None = None) -> web.Application:
    app = web.Application(middlewares=[host_guard], client_max_size=64 * 1024)
    app[CTX_KEY] = ctx
    app[PORT_KEY] = port or ctx.cfg.port
    app.router.add_get("/health", health)
    app.router.add_get("/v1", websocket)

    async def _shutdown(app: web.Application) -> None:
        for session in list(ctx.sessions):  # "going away": handlers end instead of holding the shutdown
            await session.ws.close(code=1001, message=b"agent stopping")

    async def _cleanup(app: web.Application) -> None:
        await ctx.close()

    async def _startup(app: web.Application) -> None:
        await start_hotplug(ctx)

    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    return app


def make_context(
    cfg: AgentConfig, platform: Any = None, require_platform: bool | None = None
) -> AgentContext:
    secret = load_or_create_secret(cfg)
    if platform is None and cfg.platform_url:
        platform = make_platform_client(cfg)
    ctx = AgentContext(cfg=cfg, secret=secret, audit=AuditLog(cfg.audit_db), platform=platform)
    ctx.require_platform = cfg.require_platform if require_platform is None else require_platform
    return ctx


def make_platform_client(cfg: AgentConfig) -> Any:
    from agent.platform import PlatformClient

    return PlatformClient.from_config(cfg)


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


async def start_sites(app: web.Application, cfg: AgentConfig, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    for host in cfg.bind:
        if host == "::1" and not _ipv6_available():
            log_event("bind_skipped", host=host, why="no IPv6 loopback")
            continue
        # POSIX SO_REUSEADDR only lets a restarted agent bind over TIME_WAIT connections (after a crash);
        # it never lets two listeners share the port. On Windows it would, so it stays off there.
        await web.TCPSite(runner, host, port, reuse_address=os.name == "posix").start()
        log_event("listening", host=host, port=port)
    return runner


async def serve(cfg: AgentConfig, ctx: AgentContext | None = None, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set)."""
    ctx = ctx or make_context(cfg)
    app = create_app(ctx, cfg.port)
    # Import the call handlers and the format parsers before the first connection, not beside it: two
    # threads importing modules that import each other can fail with a deadlock error in one of them (seen
    # as a call that never got its answer right after a restart). It costs start-up time, not request time.
    import agent.server.methods  # noqa: F401
    from stamping.documents import preload

    await asyncio.to_thread(preload)
    runner = await start_sites(app, cfg, cfg.port)
    write_runtime_file(cfg, cfg.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log_event("agent_started", version=__version__, port=cfg.port, data_dir=str(cfg.data_dir))
    idle_trim = asyncio.create_task(ctx.idle_trim.run())
    try:
        await stop.wait()
    finally:
        idle_trim.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # it only ever sleeps and trims
            await idle_trim
        remove_runtime_file(cfg)
        await runner.cleanup()
        log_event("agent_stopped")


async def start_hotplug(ctx: AgentContext) -> None:
    """Push token.inserted / token.removed to every authenticated connection, for every token kind of the
    driver table that has something to watch (PKCS#11 modules, SKF libraries)."""
    from agent.tokens.drivers import monitors

    async def forward(event: Any) -> None:
        if event.event == "token.removed":
            await ctx.broadcast("token.removed", {"token_id": event.token_id})
        else:
            params = {
                "token_id": event.token_id,
                "label": event.label,
                "kind": event.token_id.partition(":")[0],
                "serial": event.serial,
                "manufacturer": event.manufacturer,
            }
            await ctx.broadcast("token.inserted", {"token": params})

    for monitor in monitors(ctx.token_sources(soft=[]), ctx.workers):
        monitor.subscribe(forward)
        try:
            await monitor.start()
        except Exception:  # a broken library must not keep the agent from starting
            logging.getLogger(__name__).exception("starting a hot-plug monitor")
            continue
        ctx.hotplug.append(monitor)
