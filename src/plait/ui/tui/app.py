"""The terminal face of a project: its tasks, timeline and dependency graph, live.

How this works. The app talks only to the project's API (`plait.api.aclient`): the running
engine's over its Unix socket, or — with no engine — the store's answers, where commands
queue in the inbox. Live, it opens the event stream first, loads the timeline's last
lines, then takes from the stream what is newer (the two share `seq`). A decided event
marks the views stale; they are refreshed at most a few times a second, and every two
seconds anyway for what moves without events (durations, CPU, tokens of a turn under
way). When the stream ends the engine has stopped: the app goes on from the store and
reconnects when an engine answers again.

Quitting leaves an engine started with `plait up` running. When this process hosts the
engine (`plait run` in a terminal), quitting asks first, since the engine stops with it;
once its run has settled, quitting just leaves.
"""

from __future__ import annotations

import asyncio
import webbrowser
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from plait.api.aclient import AsyncAPI, AsyncLiveAPI, AsyncOfflineAPI, open_async_api
from plait.api.client import NoAnswer
from plait.api.views import workers_line
from plait.engine.project import engine_running, open_project
from plait.errors import PlaitError
from plait.store.paths import list_projects
from plait.textsafe import inert
from plait.ui.tui.detail import TaskScreen
from plait.ui.tui.dialogs import Answer, ConfirmScreen, Field, FormScreen, PickScreen
from plait.ui.tui.graph import graph_lines
from plait.ui.tui.help import HelpScreen
from plait.ui.tui.tasklist import SORTS, TaskTable
from plait.ui.tui.text import badge, money, plain, tokens
from plait.ui.tui.timeline import KEEP, TimelineTable

Json = dict[str, Any]
TICK = 0.5  # seconds between looks at whether the views are stale
EVERY = 4  # ticks between refreshes when nothing happened


def connect(name: str) -> AsyncAPI:
    return open_async_api(open_project(name), wait=0.0)


@dataclass(frozen=True, slots=True)
class Hosting:
    """This process runs the engine of `project` (`plait run`); `running` says whether it
    still does."""

    project: str
    running: Callable[[], bool]


PROJECT_KEYS: list[BindingType] = [
    Binding("question_mark", "help", "Help", key_display="?"),
    Binding("q", "quit", "Quit"),
    Binding("ctrl+c", "quit", "Quit", show=False),
    Binding("1", "view('tasks')", "Tasks", show=False),
    Binding("2", "view('timeline')", "Timeline", show=False),
    Binding("3", "view('graph')", "Graph", show=False),
    Binding("p", "projects", "Projects", show=False),
    Binding("a", "add", "Add task"),
    Binding("A", "adopt", "Adopt PR", show=False),
    Binding("b", "broadcast", "Broadcast", show=False),
]
TASK_KEYS: list[BindingType] = [
    Binding("m", "message", "Message"),
    Binding("x", "kill", "Kill"),
    Binding("r", "retry", "Retry"),
    Binding("R", "reset", "Reset", show=False),
    Binding("D", "hard_reset", "Hard reset", show=False),
    Binding("o", "open_pr", "Open PR", show=False),
]
LIST_KEYS: list[BindingType] = [
    Binding("s", "sort", "Sort", show=False),
    Binding("S", "reverse", "Reverse sort", show=False),
    Binding("f", "filter", "Filter", show=False),
]
# Actions of this app that act on the project: never while a dialog is open.
_OWN = frozenset(
    b.action.split("(")[0]
    for b in (*PROJECT_KEYS, *TASK_KEYS, *LIST_KEYS)
    if isinstance(b, Binding)
)


class PlaitApp(App[str | None]):
    TITLE = "plait"
    CSS = """
    #summary { height: 1; padding: 0 1; background: $panel; }
    #workers { height: auto; padding: 0 1; background: $panel; display: none; }
    TabbedContent { height: 1fr; }
    TaskTable, TimelineTable { height: 1fr; }
    #facts { height: auto; max-height: 50%; padding: 0 1; border-bottom: solid $primary; }
    #transcript { height: 1fr; padding: 0 1; }
    .dialog {
        width: 80; height: auto; max-height: 80%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    ModalScreen { align: center middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [*PROJECT_KEYS, *TASK_KEYS, *LIST_KEYS]

    def __init__(
        self,
        project: str,
        *,
        hosting: Hosting | None = None,
        connect: Callable[[str], AsyncAPI] = connect,
        open_url: Callable[[str], object] = webbrowser.open,
    ) -> None:
        super().__init__()
        self.project = project
        self.hosting = hosting
        self._connect = connect
        self._open_url = open_url
        self.api: AsyncAPI | None = None
        self._dirty = True
        self._ticks = 0
        self._refreshing = False
        self.said: deque[str] = deque(maxlen=50)  # the notifications shown, newest last
        self.bell_on = False  # plait.toml [notify] bell: ring for what the project tells
        self._turns_here = False  # the executor said "local": no workers line to ask for
        self.workers_line = Static(id="workers")

    # ---- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield self.workers_line
        with TabbedContent(initial="tasks"):
            with TabPane("Tasks [1]", id="tasks"):
                yield TaskTable(id="task-table")
            with TabPane("Timeline [2]", id="timeline"):
                yield TimelineTable(id="timeline-table")
            with TabPane("Graph [3]", id="graph"), VerticalScroll():
                yield Static(id="graph-view")
        yield Footer()

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    @property
    def timeline(self) -> TimelineTable:
        return self.query_one(TimelineTable)

    async def on_mount(self) -> None:
        await self.reconnect()
        self.set_interval(TICK, self._tick)
        self.table.focus()

    async def on_unmount(self) -> None:
        if self.api is not None:
            await self.api.close()

    # ---- the connection -------------------------------------------------------------
    async def reconnect(self) -> None:
        """(Re)open the project's API and load every view afresh."""
        old, self.api = self.api, None
        if old is not None:
            await old.close()
        try:
            self.api = self._connect(self.project)
        except PlaitError as exc:
            self.notify(_said(exc), severity="error")
            return
        self.title = f"plait · {self.project}"
        self.timeline.reset()
        self._turns_here = False  # another project (or engine) may run them elsewhere
        self._dirty = True
        if isinstance(self.api, AsyncLiveAPI):
            self.run_worker(self._follow(self.api), exclusive=True, group="follow")
        else:
            page = await self.call_api(lambda api: api.timeline(last=KEEP))
            for entry in (page or {}).get("entries", []):
                self.timeline.add(entry)
        await self.refresh_views()

    async def _follow(self, api: AsyncLiveAPI) -> None:
        opened = asyncio.Event()
        early: list[Json] = []
        loaded: int | None = None

        async def read() -> None:
            async for message in api.events(opened=opened):
                if loaded is None:
                    early.append(message)
                else:
                    self._on_event(message, loaded)

        reader = asyncio.create_task(read())
        try:
            async with asyncio.timeout(5):
                await opened.wait()
        except TimeoutError:
            pass
        page = await self.call_api(lambda a: a.timeline(last=KEEP))
        loaded = int(page["next"]) if page else 0
        for entry in (page or {}).get("entries", []):
            self.timeline.add(entry)
        for message in early:
            self._on_event(message, loaded)
        await reader
        await self._engine_ended(api)  # the stream ended: the engine stopped

    async def _engine_ended(self, api: AsyncAPI) -> None:
        """The engine behind `api` stopped: say so once and show the project's store."""
        if self.api is api:  # not said yet (reconnect replaces it at once)
            self.notify(f"the engine of {self.project} stopped; showing its store")
            await self.reconnect()

    def _engine_gone(self, api: AsyncAPI) -> bool:
        """`api` is a live API whose engine no longer runs (a hosted run that settled,
        `plait down`): its refusals are that, not errors to show."""
        if not isinstance(api, AsyncLiveAPI):
            return False
        try:
            return not engine_running(open_project(self.project))
        except PlaitError:
            return True  # the project itself is gone

    def _on_event(self, message: Json, loaded: int) -> None:
        if int(message.get("seq") or 0) <= loaded:
            return
        self.timeline.add(message)
        self._dirty = True
        for notice in message.get("notify") or []:
            # What the project tells people (needs attention, budget, idle…): shown here,
            # with the terminal bell when plait.toml's [notify] asks for it.
            self.notify(str(notice.get("title") or notice.get("kind")), timeout=8)
            if self.bell_on:
                self.bell()

    async def call_api(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """`fn(api)`; a refusal or a lost engine is said in a notification (None back)."""
        api = self.api
        if api is None:
            return None
        try:
            return await fn(api)
        except NoAnswer as exc:
            if self._engine_gone(api):
                # Between two looks the engine stopped: said once, then the store shows.
                await self._engine_ended(api)
            else:
                self.notify(_said(exc), severity="error", timeout=8)
            return None
        except PlaitError as exc:
            self.notify(_said(exc), severity="error", timeout=8)
            return None

    # ---- keeping the views fresh ------------------------------------------------------
    async def _tick(self) -> None:
        self._ticks += 1
        api = self.api
        if self._ticks % EVERY == 0:
            if isinstance(api, AsyncOfflineAPI) and engine_running(api.offline.proj):
                await self.reconnect()
                return
            self._dirty = True
            # Beside the views, not before them: asking a Temporal server that is away
            # may take seconds.
            self.run_worker(self._show_workers(), group="workers", exclusive=True)
        if self._dirty:
            await self.refresh_views()

    async def refresh_views(self) -> None:
        if self._refreshing:
            return
        self._refreshing, self._dirty = True, False
        try:
            summary = await self.call_api(lambda api: api.project())
            rows = await self.call_api(lambda api: api.tasks())
            if rows is not None:
                self.table.show(rows)
            if summary is not None:
                self.bell_on = bool((summary.get("notify") or {}).get("bell"))
                self.query_one("#summary", Static).update(self._summary(summary))
            if self.query_one(TabbedContent).active == "graph":
                await self._draw_graph()
        except NoMatches:
            pass  # the app closed while the API answered: nothing left to show it in
        finally:
            self._refreshing = False

    async def _show_workers(self) -> None:
        """The workers line (turns on `plait worker`s): hidden for a local project or
        without an engine to ask."""
        api = self.api
        line: tuple[str, bool] | None = None
        if isinstance(api, AsyncLiveAPI) and not self._turns_here:
            view = await self.call_api(lambda a: a.workers())
            if view is not None:
                line = workers_line(view)
                self._turns_here = line is None
        shown = self.workers_line
        if not shown.is_mounted:  # the app is closing
            return
        shown.display = line is not None
        if line is not None:
            text, problem = line
            shown.update(Text(inert(text), style="bold red" if problem else "dim"))

    def _summary(self, s: Json) -> Text:
        live = isinstance(self.api, AsyncLiveAPI)
        line = plain(self.project, "bold")
        line.append("  live" if live else "  offline", style="green" if live else "magenta")
        line.append("  ")
        line.append_text(badge(str(s.get("state") or "")))
        counts = s.get("counts") or {}
        shown = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
        line.append(f"  {s.get('tasks', 0)} tasks" + (f" ({shown})" if shown else ""))
        line.append(f"  {tokens(s.get('tokens'))} tokens  {money(s.get('cost_usd'))}")
        if not live:
            hosted_here = self.hosting is not None and self.hosting.project == self.project
            note = (
                "  the run is over: q leaves"
                if hosted_here
                else f"  no engine: commands wait for `plait up {self.project}`"
            )
            line.append(note, style="dim")
        return line

    async def _draw_graph(self) -> None:
        graph = await self.call_api(lambda api: api.graph())
        if graph is not None:
            lines = graph_lines(graph["tasks"]) or [Text("no tasks yet", style="dim")]
            self.query_one("#graph-view", Static).update(Text("\n").join(lines))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast; never markup (messages carry task titles and agents' errors)."""
        self.said.append(message)
        super().notify(
            inert(message), title=title, severity=severity, timeout=timeout, markup=False
        )

    # ---- views -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog is open its keys are its own.
        return not (action in _OWN and isinstance(self.screen, ModalScreen))

    async def action_view(self, name: str) -> None:
        if isinstance(self.screen, TaskScreen):
            self.pop_screen()
        self.query_one(TabbedContent).active = name
        if name == "graph":
            await self._draw_graph()
        else:
            (self.table if name == "tasks" else self.timeline).focus()

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "graph":
            await self._draw_graph()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_task()

    def action_open_task(self) -> None:
        tid = self.current_task()
        if tid is not None:
            self.push_screen(TaskScreen(tid, self))

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(
                [
                    ("Project", PROJECT_KEYS),
                    ("The task under the cursor (or shown)", TASK_KEYS),
                    ("Task list", LIST_KEYS),
                    ("Task detail", TaskScreen.BINDINGS),
                ]
            )
        )

    def current_task(self) -> str | None:
        if isinstance(self.screen, TaskScreen):
            return self.screen.task_id
        active = self.query_one(TabbedContent).active
        return self.timeline.selected() if active == "timeline" else self.table.selected()

    def action_sort(self) -> None:
        keys = list(SORTS)
        key = keys[(keys.index(self.table.sort_by) + 1) % len(keys)]
        self.table.set_sort(key, reverse=self.table.reverse)
        self.notify(f"sorted by {key}")

    def action_reverse(self) -> None:
        self.table.set_sort(self.table.sort_by, reverse=not self.table.reverse)

    def action_filter(self) -> None:
        choices = [("", Text("every status"))] + [
            (word, badge(word).append(f"  {n}", style="dim"))
            for word, n in sorted(self.table.statuses.items())
        ]

        def chosen(word: str | None) -> None:
            if word is not None:
                self.table.set_filter(word)
                self.notify(f"showing {word or 'every'} task{'s' if not word else ''}")

        self.push_screen(PickScreen("Show tasks that are…", choices), chosen)

    def action_projects(self) -> None:
        names = list_projects()
        if len(names) < 2:
            self.notify(f"{self.project} is the only project")
            return
        choices = []
        for name in names:
            proj = open_project(name)
            try:
                running = engine_running(proj)
            finally:
                proj.close()
            label = plain(name, "bold" if name == self.project else "")
            label.append("  running" if running else "  stopped", style="dim")
            choices.append((name, label))

        async def chosen(name: str | None) -> None:
            if name is not None and name != self.project:
                self.project = name
                await self.reconnect()

        self.push_screen(PickScreen("Switch to the project…", choices), chosen)

    # ---- commands -----------------------------------------------------------------------
    async def _say(self, reply: Json | None) -> None:
        if reply is not None:
            self.notify(str(reply.get("message") or "done"))
            self._dirty = True
            await self.refresh_views()

    def _task_or_say(self) -> str | None:
        tid = self.current_task()
        if tid is None:
            self.notify("no task is selected", severity="warning")
        return tid

    async def _verb(self, verb: str, **body: Any) -> None:
        tid = self._task_or_say()
        if tid is not None:
            await self._say(await self.call_api(lambda api: api.command(verb, tid, **body)))

    async def action_kill(self) -> None:
        await self._verb("kill", reason="stopped from the TUI")

    async def action_retry(self) -> None:
        await self._verb("retry")

    async def action_reset(self) -> None:
        await self._verb("reset")

    def action_hard_reset(self) -> None:
        tid = self._task_or_say()
        if tid is None:
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._verb("reset", hard=True)

        question = (
            f"Hard reset {tid}: discard its branch, worktree and PR, and start it over from main?"
        )
        self.push_screen(ConfirmScreen(question), answered)

    def action_message(self) -> None:
        tid = self._task_or_say()
        if tid is None:
            return

        async def sent(answer: Answer | None) -> None:
            if answer:
                text = str(answer["text"])
                await self._say(
                    await self.call_api(lambda api: api.command("send", tid, text=text))
                )

        fields = [Field("text", f"Message to {tid}'s agent", required=True)]
        self.push_screen(FormScreen(f"Message to {tid}", fields), sent)

    def action_broadcast(self) -> None:
        async def sent(answer: Answer | None) -> None:
            if answer:
                text = str(answer["text"])
                await self._say(await self.call_api(lambda api: api.broadcast(text)))

        fields = [Field("text", "Message to every working task's agent", required=True)]
        self.push_screen(FormScreen("Broadcast", fields), sent)

    def action_add(self) -> None:
        async def added(answer: Answer | None) -> None:
            if not answer:
                return
            fields: Json = {"title": answer["title"], "origin": "tui"}
            if answer.get("body"):
                fields["body"] = answer["body"]
            after = [a.strip() for a in str(answer.get("after") or "").split(",") if a.strip()]
            if after:
                fields["after"] = after
            await self._say(await self.call_api(lambda api: api.add(fields)))

        form = [
            Field("title", "Title", "Fix the login bug", required=True),
            Field("body", "What to do (optional)"),
            Field("after", "After tasks (ids, comma-separated; optional)"),
        ]
        self.push_screen(FormScreen("Add a task", form), added)

    def action_adopt(self) -> None:
        async def adopted(answer: Answer | None) -> None:
            if not answer:
                return
            text = str(answer["pr"]).lstrip("#")
            if not text.isdecimal() or int(text) < 1:
                self.notify(f"{text!r} is not a PR number", severity="error")
                return
            merge = bool(answer.get("merge"))
            await self._say(await self.call_api(lambda api: api.adopt(int(text), merge=merge)))

        form = [
            Field("pr", "PR number", "123", required=True),
            Field("merge", "merge it when green and approved", check=True),
        ]
        self.push_screen(FormScreen("Adopt a PR", form), adopted)

    async def action_open_pr(self) -> None:
        tid = self._task_or_say()
        if tid is None:
            return
        row = await self.call_api(lambda api: api.task(tid))
        if row is None:
            return
        url = str(row.get("pr_url") or "")
        if not row.get("pr"):
            self.notify(f"{tid} has no PR yet", severity="warning")
        elif url.startswith(("http://", "https://")):
            await asyncio.to_thread(self._open_url, url)
            self.notify(f"opened {url}")
        else:
            self.notify(
                f"PR #{row['pr']} is in the local forge, which has no web page: its branch is "
                f"{row.get('branch')}; `plait review {tid} TEXT` comments on it",
                severity="warning",
                timeout=8,
            )

    async def action_quit(self) -> None:
        """Leave; when this process hosts a running engine, ask first (it stops too)."""
        hosting = self.hosting
        if hosting is None or not hosting.running():
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit("stop")

        question = (
            f"This terminal runs the engine of {hosting.project}: quitting stops it. Its "
            f"work goes on with `plait resume {hosting.project}`. Quit?"
        )
        self.push_screen(ConfirmScreen(question), answered)


def _said(exc: PlaitError) -> str:
    return exc.message + (f" — {exc.hint}" if exc.hint else "")
