"""The web dashboard: a page, a stylesheet and a few hand-written JavaScript modules,
served by the project's engine next to its JSON API (on the loopback listener, behind the
token).

No build step and no CDN: the files in `static/` ship in the package as they are, so the
dashboard works offline. The page renders only through DOM text nodes (never HTML made
from a string), and the Content-Security-Policy below refuses any script or style the
package did not ship, so a title or an agent's output can never run as code.
"""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# name → media type: the only files served (a path in a URL never reaches the disk).
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "graph.js": "text/javascript; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@functools.cache
def static_file(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _file_response(name: str) -> Response:
    return Response(static_file(name), media_type=FILES[name], headers=HEADERS)


async def _page(request: Request) -> Response:
    return _file_response("index.html")


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FILES or name == "index.html":
        return Response("not found", status_code=404, media_type="text/plain")
    return _file_response(name)


def dashboard_routes() -> list[Route]:
    return [
        Route("/", _page, methods=["GET"]),
        Route("/static/{name}", _static, methods=["GET"]),
    ]
