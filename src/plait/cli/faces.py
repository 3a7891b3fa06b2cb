"""Faces of a project: `plait tui`, and the TUI that `plait run` shows in a terminal.

`plait tui` watches and steers a project through its API: its running engine, or its
store when none runs (commands then wait in the inbox). `plait run` in a terminal hosts
the engine in a thread of this process and shows the same TUI over the engine's socket;
quitting asks first, because the engine stops with the process, and once the TUI closes
the run's summary is printed as the headless run prints it.

Textual is imported only here, when a face is shown: `plait ps` does not pay for it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from plait import exits
from plait.api.client import LiveAPI
from plait.core import events as ev
from plait.engine.host import HostOptions, host
from plait.engine.loop import Engine, EngineResult
from plait.engine.project import Project, open_project
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
    the plan's tasks (the engine goes on after the TUI closes)."""
    from plait.ui.tui import PlaitApp

    PlaitApp(api.name).run()
    try:
        rows = [r for r in api.tasks() if r["id"] in set(ids)]
        settled = api.settled(list(ids))
    except ProjectError:
        return exits.OK  # the engine was stopped meanwhile: `plait ps` tells the rest
    if not settled:
        print(f"the engine of {api.name} goes on with the plan's tasks (`plait ps`)")
        return exits.INTERRUPTED
    summary = summary_from_rows(api.name, rows, outcome=rows_outcome(rows))
    print(summary_table(summary))
    return exit_code(str(summary["outcome"]))


def register(sub: Any) -> None:
    tui = sub.add_parser(
        "tui",
        help="watch and steer a project in the terminal (tasks, transcripts, timeline, graph)",
        description="A terminal UI over the project's API: its running engine, or its store "
        "when none runs (commands then wait for `plait up`). Press ? in it for every key. "
        "Quitting leaves the engine running.",
    )
    tui.add_argument("project", nargs="?", help="the project (default: the only one)")
    tui.set_defaults(handler=cmd_tui)


__all__ = ["follow_in_tui", "host_in_tui", "register", "wants_tui"]
