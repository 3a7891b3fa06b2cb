"""`plait web`: the project's dashboard in a browser.

The dashboard is served by the project's engine, on 127.0.0.1 behind the project's token.
This command makes sure there is such a listener — it starts the engine in the background
(`plait up --http PORT`) when none runs, or asks a running engine over its Unix socket to
open one — then prints the URL that carries the token. The browser trades the token for a
cookie on its first visit; the command itself ends at once (the engine goes on).
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from typing import Any

from plait import exits
from plait.api.client import LiveAPI, engine_address
from plait.cli.common import add_json_flag, port, print_json
from plait.cli.running import start_engine
from plait.engine.project import engine_running, open_project
from plait.errors import ProjectError


def cmd_web(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    name, token_path = proj.name, proj.paths.token
    try:
        started = not engine_running(proj)
        if started:
            proj.close()
            start_engine(name, http=args.port if args.port is not None else 0)
            proj = open_project(name)
        socket = engine_address(proj)
        if socket is None:
            raise ProjectError(
                f"the engine of {name} stopped before it could serve the dashboard",
                hint=f"see {proj.paths.engine_log}, then `plait web {name}` again",
            )
    finally:
        proj.close()
    api = LiveAPI(name, socket)
    try:
        base = str(api.open_http(args.port or 0)["http"])
    finally:
        api.close()
    url = f"{base}/?token={token_path.read_text().strip()}"
    if args.json:
        print_json({"project": name, "url": url, "started": started})
    else:
        _say(name, url, base, args, started=started)
    if args.open and not webbrowser.open(url):
        print("plait: no browser found here: open the URL yourself", file=sys.stderr)
    return exits.OK


def _say(name: str, url: str, base: str, args: argparse.Namespace, *, started: bool) -> None:
    if args.port and not base.endswith(f":{args.port}"):
        print(
            f"plait: warning: the engine of {name} already serves the dashboard on {base}, "
            f"not port {args.port}",
            file=sys.stderr,
        )
    print(f"dashboard of {name}: {url}")
    if started:
        print(f"its engine runs in the background; `plait down {name}` stops it")


def register(sub: Any) -> None:
    web = sub.add_parser(
        "web",
        help="the project's live dashboard in a browser (starts its engine if needed)",
        description="Serve the project's dashboard on 127.0.0.1 from its engine — started "
        "in the background if none runs — and print its URL, which carries the project's "
        "token: keep it to yourself.",
    )
    web.add_argument("project", nargs="?", help="the project (default: the only one)")
    web.add_argument(
        "--port",
        type=port,
        metavar="N",
        help="the port on 127.0.0.1 (default: any free one; kept while the engine runs)",
    )
    web.add_argument("--open", action="store_true", help="open the dashboard in a browser")
    add_json_flag(web, 'print {"project", "url", "started"}')
    web.set_defaults(handler=cmd_web)
