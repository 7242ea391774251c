"""The demo portal: a small aiohttp static site on 127.0.0.1 — a government form with 盖章 buttons and a
verify area (index.html), an OA-style integration example (oa.html), the page SDK served from this
repository's extension/sdk/, the sample documents and a /demo.json with the demo's facts. The pages are
package data in sealbridge/demo/web/. Only fixed names are served (no path from the request reaches the disk)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

STATIC = ("portal.js", "oa.js", "common.js", "style.css")
PAGES = {"/": "index.html", "/index.html": "index.html", "/oa.html": "oa.html"}
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".ts": "text/plain"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _package_file(name: str) -> bytes:
    return resources.files("sealbridge.demo.web").joinpath(name).read_bytes()


def _respond(body: bytes, content_type: str, charset: str | None = "utf-8") -> web.Response:
    resp = web.Response(body=body, content_type=content_type, charset=charset)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def make_portal_app(facts: dict[str, Any], samples: dict[str, Path], sdk_dir: Path | None) -> web.Application:
    """`facts` → /demo.json; `samples` maps "form.pdf"/"form.ofd" to files; the SDK from `sdk_dir`."""

    async def page(request: web.Request) -> web.Response:
        return _respond(_package_file(PAGES[request.path]), "text/html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return _respond(_package_file(name), TYPES[Path(name).suffix])

    async def sdk(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if sdk_dir is None or name not in ("sealbridge.js", "sealbridge.d.ts"):
            raise web.HTTPNotFound(text="the SDK is served from the repository's extension/sdk/")
        return _respond((sdk_dir / name).read_bytes(), TYPES[Path(name).suffix])

    async def sample(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        path = samples.get(name)
        if path is None or not path.is_file():
            raise web.HTTPNotFound()
        ctype = "application/pdf" if name.endswith(".pdf") else "application/ofd"
        resp = _respond(path.read_bytes(), ctype, charset=None)
        resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
        return resp

    async def demo_json(request: web.Request) -> web.Response:
        return _respond(json.dumps(facts, ensure_ascii=False).encode(), "application/json")

    app = web.Application()
    for path in PAGES:
        app.router.add_get(path, page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/sdk/{name}", sdk)
    app.router.add_get("/samples/{name}", sample)
    app.router.add_get("/demo.json", demo_json)
    return app


async def start_portal(app: web.Application, port: int) -> tuple[web.AppRunner, int]:
    """Serve on 127.0.0.1:`port` (0 = any free port); returns the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = getattr(site, "_server", None)
    bound = port
    if server is not None and server.sockets:
        bound = int(server.sockets[0].getsockname()[1])
    return runner, bound
