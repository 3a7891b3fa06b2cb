"""One task in full: where its work is, what it waits for, and its live transcript.

The transcript is rendered as Markdown (agents write Markdown), tool calls and their
output as code blocks, and it follows new output while the view is scrolled to its end.
Transcript entries are not engine events (an agent streams them while its turn runs), so
the screen asks the API for entries after the last one it has, twice a second.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from plait.textsafe import inert
from plait.ui.tui.text import badge, duration, money, plain, size, tokens

Json = Mapping[str, Any]
SHOW_ENTRIES = 300  # transcript entries rendered when the screen opens
_PROMPT_LINES = 12


def _fence(text: str) -> str:
    """`text` as a fenced code block whose fence no backtick run inside can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def entry_markdown(entry: Json) -> str | None:
    """The Markdown for one transcript entry (None for bookkeeping records)."""
    line = entry.get("line")
    if line is None:
        return None
    data = entry.get("event") or {}
    match entry.get("kind"):
        case "TextOut":
            return inert(str(data.get("text", "")))
        case "Prompt":
            lines = inert(str(data.get("text", ""))).splitlines()
            cut = lines[:_PROMPT_LINES] + (["…"] if len(lines) > _PROMPT_LINES else [])
            return "**prompt**\n\n" + _fence("\n".join(cut))
        case "ToolCall" | "ToolResult" | "Garbage":
            return _fence(inert(str(line)).strip("\n"))
    return "*" + inert(str(line)).replace("*", "\\*").replace("_", "\\_") + "*"


def facts(d: Json) -> Group:
    """The task's facts as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    status = badge(d.get("status"))
    if d.get("attention"):
        status.append(f"  {inert(str(d['attention']))}", style="red")
    if d.get("stopped"):
        status.append(f"  stopped: {inert(str(d['stopped']))}", style="magenta")
    rows: list[tuple[str, Text]] = [
        ("Task", plain(f"{d['id']} — {d.get('title') or ''}")),
        ("Status", status),
        ("Agent", plain(" ".join(filter(None, [d.get("agent"), d.get("model")])))),
        ("Branch", plain(d.get("branch") or "(none yet)")),
        ("Base", plain(_base(d))),
        ("Worktree", plain(d.get("worktree") or "")),
        ("PR", _pr(d)),
        ("Depends on", plain(", ".join(d.get("depends_on") or []) or "nothing")),
        ("Checks", _checks(d)),
        ("Feedback", plain(" ".join(d.get("queue") or []) or "none queued")),
        ("Now", plain(_now(d))),
        ("Usage", plain(_usage(d))),
    ]
    if d.get("last_error"):
        rows.append(("Last error", plain(d["last_error"], "red")))
    budget = _budget(d)
    if budget:
        rows.append(("Budget", budget))
    for overlap in d.get("overlaps") or []:
        paths = ", ".join(str(p) for p in overlap.get("paths") or [])
        rows.append(("Would conflict", plain(f"with {overlap.get('with')}: {paths}", "red")))
    if d.get("risk"):
        why = f" ({d['risk_reason']})" if d.get("risk_reason") else ""
        rows.append(("Risk", plain(f"{d['risk']}{why}", "yellow" if d["risk"] != "low" else "")))
    if d.get("path_classes"):
        rows.append(("Classes by path", plain(", ".join(d["path_classes"]))))
    if d.get("held_by"):
        rows.append(("Held back by", plain(str(d["held_by"]), "yellow")))
    if d.get("waits_for") and d["waits_for"] != d.get("over_budget"):
        rows.append(("Waits for", plain(str(d["waits_for"]), "yellow")))
    for key, value in rows:
        grid.add_row(key, value)
    threads = d.get("threads") or []
    parts: list[Table | Text] = [grid]
    if threads:
        parts.append(Text(f"Pending review threads ({len(threads)})", style="bold"))
        for th in threads:
            where = f"{th.get('path')}:{th.get('line')}" if th.get("path") else "conversation"
            body = inert(str(th.get("body") or "")).replace("\n", " ")
            parts.append(plain(f"  {th.get('author') or '?'} on {where}: {body[:160]}"))
    return Group(*parts)


def _budget(d: Json) -> Text | None:
    """The task's limits, and what is over (`plait budget` raises them)."""
    limits = d.get("budget") or {}
    said = [f"{limits['tokens']:,} tokens" if limits.get("tokens") else "",
            f"${limits['dollars']}" if limits.get("dollars") else ""]  # fmt: skip
    text = plain(" · ".join(w for w in said if w))
    if d.get("over_budget"):
        text.append(f"  over: {inert(str(d['over_budget']))}", style="bold magenta")
    return text if text.plain else None


def _base(d: Json) -> str:
    base = str(d.get("base_branch") or "")
    return f"{base} (stacked on {d['stacked_on']})" if d.get("stacked_on") else base


# Landings that never open a PR: "none yet" would promise one.
_NO_PR = {"none": "none: its answer is the result", "merge": "none: it merges without one"}


def _now(d: Json) -> str:
    """The step under way ("discard", not "discard · discard" when its part is its name)."""
    current, step = d.get("current"), d.get("step")
    return " · ".join(filter(None, [current, step if step != current else None])) or "idle"


def _pr(d: Json) -> Text:
    if not d.get("pr"):
        return plain(_NO_PR.get(str(d.get("landing")), "none yet"), "dim")
    text = plain(f"#{d['pr']} ", "cyan")
    url = str(d.get("pr_url") or "")
    if url.startswith(("http://", "https://")):
        text.append(inert(url), style="underline")
    else:
        text.append("(local forge: no web page)", style="dim")
    state = " ".join(filter(None, [d.get("pr_state"), "draft" if d.get("pr_draft") else ""]))
    text.append(f"  {state}  into {inert(str(d.get('pr_base') or ''))}", style="dim")
    return text


def _checks(d: Json) -> Text:
    checks = d.get("checks")
    if not checks:
        return plain("no PR" if d.get("landing") in _NO_PR else "no PR yet", "dim")
    ci = str(checks.get("ci") or "none")
    text = plain(f"CI {ci}", {"passed": "green", "failed": "red"}.get(ci, "yellow"))
    mergeable = checks.get("mergeable")
    if mergeable is not None:
        text.append("  mergeable" if mergeable else "  conflicts", style="dim")
    if checks.get("evidence"):
        first = inert(str(checks["evidence"])).strip().splitlines()[:1]
        text.append(f"  {first[0][:120] if first else ''}", style="dim")
    return text


def _usage(d: Json) -> str:
    turns = int(d.get("turns") or 0)
    parts = [
        f"{turns} turn{'s' if turns != 1 else ''}",
        f"{tokens(d.get('tokens'))} tokens",
        money(d.get("cost_usd")),
        duration(d.get("duration_s")),
    ]
    if d.get("cpu_percent") is not None:
        parts.append(f"CPU {float(d['cpu_percent']):.0f}% RSS {size(d.get('rss_bytes'))}")
    return " · ".join(p for p in parts if p)


class Caller(Protocol):
    """How a screen reaches the API: the app's connection, errors already reported."""

    async def call_api(self, fn: Callable[[Any], Awaitable[Any]]) -> Any: ...


class TaskScreen(Screen[None]):
    """Pushed over the main views for one task; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("end", "follow", "Follow", show=False),
    ]

    def __init__(self, task: str, caller: Caller) -> None:
        super().__init__()
        self.task_id = task
        self.caller = caller
        self.detail: Json = {}
        self.after = 0
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Static(id="facts")
        with VerticalScroll(id="transcript"):
            yield Markdown(id="md")
        yield Footer()

    async def on_mount(self) -> None:
        await self.refresh_detail()
        await self._load_transcript()
        self.set_interval(0.5, self.poll)

    async def refresh_detail(self) -> None:
        detail = await self.caller.call_api(lambda api: api.task(self.task_id))
        if detail is not None:
            self.detail = detail
            self.query_one("#facts", Static).update(facts(detail))

    async def _load_transcript(self) -> None:
        entries: list[Json] = []
        while True:
            page = await self._page()
            if not page:
                break
            entries += page
            entries = entries[-SHOW_ENTRIES:]
        await self._show(entries)
        self.query_one("#transcript", VerticalScroll).scroll_end(animate=False)

    async def _page(self) -> list[Json]:
        page = await self.caller.call_api(
            lambda api: api.transcript(self.task_id, after=self.after, limit=500)
        )
        if not page:
            return []
        self.after = int(page["next"])
        return list(page["entries"])

    async def _show(self, entries: list[Json]) -> None:
        parts = [md for md in (entry_markdown(e) for e in entries) if md]
        if not parts:
            return
        scroll = self.query_one("#transcript", VerticalScroll)
        following = scroll.scroll_y >= scroll.max_scroll_y - 1
        await self.query_one("#md", Markdown).append("\n\n".join(parts) + "\n\n")
        if following:
            scroll.scroll_end(animate=False)

    async def poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            await self._show(await self._page())
            await self.refresh_detail()
        finally:
            self._polling = False

    def action_follow(self) -> None:
        self.query_one("#transcript", VerticalScroll).scroll_end(animate=False)
