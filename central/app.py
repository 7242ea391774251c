"""The aiohttp application and a runner for `sealbridge central`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from central import routes_admin, routes_public
from central.http_util import error_middleware
from central.ratelimit import TokenBuckets
from central.routes_public import CENTRAL, LIMITER, VERIFY_SLOTS
from central.service import Central, Settings
from stamping.documents import preload_verifiers
from stamping.fileout import atomic_write

log = logging.getLogger("sealbridge.central")


def create_app(central: Central) -> web.Application:
    s = central.settings
    app = web.Application(
        client_max_size=s.max_document + 1024,
        middlewares=[
            error_middleware,
            routes_public.rate_limit_middleware,
            routes_admin.admin_auth_middleware,
        ],
    )
    app[CENTRAL] = central
    app[LIMITER] = TokenBuckets(s.rate_per_second, s.rate_burst)
    app[VERIFY_SLOTS] = asyncio.Semaphore(2)
    routes_public.add_routes(app)
    routes_admin.add_routes(app)
    return app


def _write_ready(path: str, host: str, port: int) -> None:
    atomic_write(Path(path), f"{host} {port}\n".encode(), 0o644)


async def serve(settings: Settings, host: str, port: int, ready_file: str | None = None) -> None:
    """Run until SIGINT/SIGTERM. Writes "host port" to `ready_file` once listening (for tests and scripts)."""
    central = Central(settings)
    # The verifiers are imported and asn1crypto's classes set up before requests run in worker threads:
    # threads importing or first-using them side by side can fail (see formats.asn1settle).
    await asyncio.to_thread(preload_verifiers)
    runner = web.AppRunner(create_app(central), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("central platform listening on http://%s:%s", host, bound)
    print(f"sealbridge central listening on http://{host}:{bound}", flush=True)
    if ready_file:
        _write_ready(ready_file, host, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        central.close()
