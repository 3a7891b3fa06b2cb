"""Faces of a project: `plait tui`, the TUI that `plait run` shows in a terminal, and
`plait web`, the dashboard in a browser.

`plait tui` watches and steers a project through its API: its running engine, or its
store when none runs (commands then wait in the inbox). `plait run` in a terminal hosts
the engine in a thread of this process and shows the same TUI over the engine's socket;
quitting asks first, because the engine stops with the process, and once the TUI closes
the run's summary is printed as the headless run prints it.

The dashboard is served by the project's engine, on 127.0.0.1 behind the project's token.
`plait web` makes sure there is such a listener — it starts the engine in the background
(`plait up --http PORT`) when none runs, or asks a running engine over its Unix socket to
open one — then prints the URL that carries the token. The browser trades the token for a
cookie on its first visit; the command itself ends at once (the engine goes on).

Textual is imported only here, when a face is shown: `plait ps` does not pay for it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import webbrowser
from collections.abc import Callable, Sequence
from typing import Any

from plait import exits
from plait.api.client import LiveAPI, engine_address
from plait.cli.background import start_engine, warn_port_kept
from plait.cli.common import add_json_flag, add_project_arg, port, print_json
from plait.core import events as ev
from plait.engine.host import HostOptions, host
from plait.engine.loop import Engine, EngineResult
from plait.engine.project import Project, engine_running, open_project
from plait.errors import ProjectError, UsageError
from plait.ui.summary import exit_code, report, rows_outcome, summary_from_rows, summary_table


def wants_tui(args: argparse.Namespace) -> bool:
    """`plait run` shows the TUI when it writes to a terminal and was not told otherwise."""
    if getattr(args, "json", False) or getattr(args, "headless", False):
        return False
    return sys.stdout.isatty() and sys.stdin.isatty()


def cmd_tui(args: argparse.Namespace) -> int:
    from plait.ui.tui import PlaitApp

    proj = open_project(args.project)
    name = proj.name
    proj.close()
    _check_terminal()
    PlaitApp(name).run()
    return exits.OK


def _check_terminal() -> None:
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise UsageError(
            "the TUI needs a terminal",
            hint="run it in one; scripts use `plait ps --json` or `plait logs -f`",
        )


class _Hosted:
    """The engine running in a thread of this process, as the TUI sees it."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.result: EngineResult | None = None
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.engine: Engine | None = None
        self.thread: threading.Thread | None = None

    def on_ready(self, engine: Engine, info: dict[str, object]) -> None:
        self.engine, self.loop = engine, asyncio.get_running_loop()
        self.ready.set()

    def run(self, serve: Callable[[], EngineResult]) -> None:
        try:
            self.result = serve()
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.ready.set()

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        """Stop the engine as a signal would (cleanly), and wait for it."""
        if self.engine is not None and self.loop is not None and self.running():
            self.loop.call_soon_threadsafe(self.engine.stop)
        if self.thread is not None:
            self.thread.join()


def host_in_tui(
    proj: Project,
    first: Sequence[ev.Event],
    *,
    ids: Sequence[str] | None,
    token: str | None,
    extra: dict[str, object] | None = None,
) -> int:
    """Host the project's engine in a thread and show the TUI until the user quits."""
    from plait.ui.tui import Hosting, PlaitApp

    name = proj.name
    proj.close()  # SQLite connections belong to their thread: the engine's opens its own
    hosted = _Hosted()

    def serve() -> EngineResult:
        options = HostOptions(token=token)
        return host(open_project(name), first, options=options, on_ready=hosted.on_ready)

    hosted.thread = threading.Thread(target=hosted.run, args=(serve,), name="plait-engine")
    hosted.thread.start()
    hosted.ready.wait()
    if hosted.error is not None:
        hosted.thread.join()
        raise hosted.error
    try:
        PlaitApp(name, hosting=Hosting(project=name, running=hosted.running)).run()
    finally:
        hosted.stop()
    if hosted.error is not None:
        raise hosted.error
    assert hosted.result is not None
    return report(hosted.result, ids=ids, json_mode=False, extra=extra)


def follow_in_tui(api: LiveAPI, ids: Sequence[str]) -> int:
    """`plait run` on a project whose engine runs elsewhere: the TUI, then the summary of
    the plan's tasks. Quitting before they settle interrupts nothing (the engine goes on
    with them), so it exits 0; quitting a TUI that hosts the engine stops the run: 130."""
    from plait.ui.tui import PlaitApp

    PlaitApp(api.name).run()
    try:
        rows = [r for r in api.tasks() if r["id"] in set(ids)]
        settled = api.settled(list(ids))
    except ProjectError:
        return exits.OK  # the engine was stopped meanwhile: `plait ps` tells the rest
    if not settled:
        print(f"the engine of {api.name} goes on with the plan's tasks (`plait ps`)")
        return exits.OK
    summary = summary_from_rows(api.name, rows, outcome=rows_outcome(rows))
    print(summary_table(summary))
    return exit_code(str(summary["outcome"]))


# ---- the dashboard ---------------------------------------------------------------------
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
    again = f"plait web {name} --port {args.port}"
    warn_port_kept(name, base, args.port, serves="the dashboard", again=again)
    print(f"dashboard of {name}: {url}")
    if started:
        print(f"its engine runs in the background; `plait down {name}` stops it")


# ---- the parsers -----------------------------------------------------------------------
def register(sub: Any) -> None:
    tui = sub.add_parser(
        "tui",
        help="watch and steer a project in the terminal (tasks, transcripts, timeline, graph)",
        description="A terminal UI over the project's API: its running engine, or its store "
        "when none runs (commands then wait for `plait up`). Press ? in it for every key. "
        "Quitting leaves the engine running.",
    )
    add_project_arg(tui)
    tui.set_defaults(handler=cmd_tui)

    web = sub.add_parser(
        "web",
        help="the project's live dashboard in a browser (starts its engine if needed)",
        description="Serve the project's dashboard on 127.0.0.1 from its engine — started "
        "in the background if none runs — and print its URL, which carries the project's "
        "token: keep it to yourself.",
    )
    add_project_arg(web)
    web.add_argument(
        "--port",
        type=port,
        metavar="N",
        help="the port on 127.0.0.1 (default: any free one; kept while the engine runs)",
    )
    web.add_argument("--open", action="store_true", help="open the dashboard in a browser")
    add_json_flag(web, 'print {"project", "url", "started"}')
    web.set_defaults(handler=cmd_web)


__all__ = ["follow_in_tui", "host_in_tui", "register", "wants_tui"]
