"""The GitHub issues source: labelled issues become tasks; their state goes back on the issue.

How this works. Every `poll` seconds the source lists the repository's open issues that
carry every `[issues] labels` label (and the assignee, when set) with a conditional
request: while nothing changed GitHub answers 304, which costs no rate-limit point. Each
listed issue without a task yet becomes one (`issue-<N>`, landing `pr`): its title, a
description that ends in `Closes #N` (the PR body carries it, so merging the PR closes the
issue) and, as its plan's context, the issue's body and comments. At most
`launches_per_poll` are added per look, oldest first; the rest wait for the next look.
An issue that is closed, loses its label or gains an `exclude` label stops its task (the
engine interrupts the agent; its work is kept).

The task's state is reflected on the issue as one `plait:<status>` label and one status
comment that is edited in place. The source compares what the task is now with what it
last asked the issue to show (kept with `remember` in the project's store) and, when they
differ, asks for the write: every write on an issue (status, a scheduled check's report,
a follow-up issue) is an `IssueWriteAsked` event whose `WriteIssue` effect waits in the
project's outbox like any forge write and is performed by `sources.issue_writer`, which
looks at the issue before it acts. So a crash anywhere repeats nothing: an effect left
pending runs again and finds its label or its marked comment there; an ask made again
(a crash before it was remembered) makes an effect that finds the write done.

Blocked recovery: a task that is blocked or needs a person is retried (`TaskRetried`)
after a cooldown ladder (`cooldowns`, e.g. 1 h, 4 h, 24 h: the n-th retry after the n-th
rung, counted from when the task was found blocked, on the engine's clock), unless its
issue carries a `hold_labels` label; past the last rung it waits for a person. The retry
is counted before it is submitted, so a crash in between loses a retry, never doubles one.

Also, per look: open PRs with `repair_label` are adopted as `watch` tasks (plait keeps them
mergeable and green, people merge); scheduled issues get their checks
(`sources.issue_schedules`). The risk tier of a PR is the core's (`core.risk_gate`): the
status comment shows it.

Every add and every status change first checks that its rate-limit points stay above the
core bucket's reserve (a write already asked waits for it), and the pause between looks
grows so the budget lasts until GitHub's reset.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from plait.api.commands import adopt_event
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import IssueWrite, OpKind, Phase, RunConfig, TaskState
from plait.core.plan import TaskSpec
from plait.core.risk_gate import shown as risk_shown
from plait.core.task import attention_reason
from plait.engine.project import Project
from plait.errors import PlaitError
from plait.forges.github.client import GitHubClient, GitHubError
from plait.forges.github.forge import DEFAULT_API, pr_info_from
from plait.forges.github.mapping import marker
from plait.forges.github.token import (
    RepoId,
    Token,
    infer_repo,
    parse_remote,
    resolve_token,
)
from plait.plans.issues_config import LANE_CLASSES, IssuesConfig
from plait.sources import FACTORIES, Source, SourceContext, issue_split
from plait.sources import issue_schedules as sched
from plait.sources.issue_writer import COST, PREFIX, STATUS_KEY, STATUSES, IssueWriter

log = logging.getLogger(__name__)

NAME = "issues"
ORIGIN = "github-issue"
REPAIR_ORIGIN = "github-repair"  # a PR adopted for its repair label
REFLECT_EVERY = 2.0  # seconds between two comparisons of tasks with what the issues show
WRITE_COST = COST["status"]  # core points one issue's status change may take
_PAGES = 10  # at most 1000 labelled open issues are read per look
_TITLE_MAX = 200

Json = Any


# ---- pure ------------------------------------------------------------------------------------
def task_id(number: int) -> str:
    return f"issue-{number}"


def issue_number(spec: TaskSpec) -> int | None:
    """The issue an implementation task (`issue-<N>`) works on."""
    if spec.origin != ORIGIN or not spec.id.startswith("issue-"):
        return None
    tail = spec.id.removeprefix("issue-")
    return int(tail) if tail.isdecimal() else None


def issue_of(spec: TaskSpec) -> int | None:
    """The issue any task of this source belongs to (its plan is `issue-<N>`)."""
    if spec.origin not in (ORIGIN, sched.ORIGIN):
        return None
    tail = spec.plan.removeprefix("issue-")
    return int(tail) if tail.isdecimal() else None


def wanted(issue: Mapping[str, Json], cfg: IssuesConfig) -> bool:
    """An open issue (not a PR) with every pick-up label and no excluded one."""
    if "pull_request" in issue or issue.get("state") != "open":
        return False
    names = {str(label.get("name")) for label in issue.get("labels") or []}
    return set(cfg.labels) <= names and not names & set(cfg.exclude)


def issue_task(
    issue: Mapping[str, Json],
    comments: Sequence[Mapping[str, Json]],
    *,
    at: float,
    classes: Sequence[str] = (),
) -> ev.TasksAdded:
    """The task an issue becomes, with the issue's text as its plan's context (the PR
    body shows the description, so the description stays short and says `Closes #N`).
    A label naming one of `classes` (any case) puts the task in that class and its cap."""
    number = int(issue["number"])
    by_name = {c.lower(): c for c in classes}
    labels = [str(label.get("name")).lower() for label in issue.get("labels") or []]
    lane = LANE_CLASSES["implement_cap"]
    task_class = next((by_name[n] for n in labels if n in by_name), None)
    if task_class is None and lane in classes:
        task_class = lane  # the implementation lane's cap holds it
    title = " ".join(str(issue.get("title") or f"Issue {number}").split())[:_TITLE_MAX]
    spec = TaskSpec(
        id=task_id(number),
        title=title,
        description=f"Resolve GitHub issue #{number}: {title}\n\nCloses #{number}",
        landing="pr",
        origin=ORIGIN,
        plan=task_id(number),
        task_class=task_class,
    )
    return ev.TasksAdded(at=at, tasks=(spec,), plan=spec.plan, context=_context(issue, comments))


def _context(issue: Mapping[str, Json], comments: Sequence[Mapping[str, Json]]) -> str:
    number, title = issue["number"], issue.get("title") or ""
    parts = [f"GitHub issue #{number}: {title}", str(issue.get("body") or "(no description)")]
    said = [
        f"@{(c.get('user') or {}).get('login', '?')}: {c.get('body') or ''}"
        for c in comments
        if marker(STATUS_KEY) not in str(c.get("body") or "")
    ]
    if said:
        parts += ["## Comments on the issue", "\n\n".join(said)]
    parts.append(issue_split.HOW_TO_SPLIT)
    return "\n\n".join(parts).strip()


def status_of(task: TaskState, config: RunConfig) -> str:
    """The issue's `plait:` status for a task ("stopped": no label, the comment says so)."""
    if task.phase is Phase.MERGED:
        return "done"
    if task.stopped:
        return "stopped"
    if task.failed:
        return "blocked"
    if attention_reason(task, config):
        return "needs-human"
    if task.pr is not None:
        return "pr-open"
    if task.phase is Phase.WAITING:
        return "queued"
    return "running"


def status_comment(task: TaskState, config: RunConfig, status: str, risk: str = "") -> str:
    lines = [f"**plait** · `{status}` · task `{task.id}`"]
    if task.pr is not None:
        lines[0] += f" · PR #{task.pr.number}"
    if risk:
        lines[0] += f" · risk: {risk}"
    why = task.stopped or attention_reason(task, config)
    if why:
        lines.append(f"Why: {why}")
    lines.append(marker(STATUS_KEY))
    return "\n\n".join(lines)


def recovery_due(since: float, retries: int, ladder: Sequence[float], now: float) -> bool:
    """Whether a task blocked since `since`, retried `retries` times, goes again now."""
    return retries < len(ladder) and now >= since + ladder[retries]


def finishing(task: TaskState) -> bool:
    """A task that landed or is landing: its issue closing is its own doing."""
    if task.phase is Phase.MERGED or (task.pr is not None and task.pr.state == "merged"):
        return True
    return task.current is not None and task.current.kind in (OpKind.MERGE, OpKind.CLEANUP)


# ---- the source ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Look:
    """What one look found and did (for tests and the log)."""

    listed: int
    added: tuple[str, ...]
    stopped: tuple[str, ...]
    not_modified: bool


class IssueSource:
    name = NAME

    def __init__(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        cfg: IssuesConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reflect_every: float = REFLECT_EVERY,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.owns_client = owns_client  # made for this source alone: closed when it stops
        self.base = f"/repos/{owner}/{repo}"
        self.slug = f"{owner}/{repo}"
        self.cfg = cfg
        self.sleep = sleep
        self.reflect_every = reflect_every
        self._open: dict[int, Json] = {}  # number → the issue as last listed
        self._performer: tuple[SourceContext, IssueWriter] | None = None  # for this engine

    async def run(self, ctx: SourceContext) -> None:
        try:
            self._writer(ctx)  # writes a crash left in the outbox go first
            await self._watch(ctx)
        finally:
            if self.owns_client:
                await self.client.aclose()

    async def _watch(self, ctx: SourceContext) -> None:
        next_look = 0.0
        while True:
            try:
                if ctx.clock() >= next_look:
                    await self.look(ctx)
                    next_look = ctx.clock() + self.client.budget.suggested_poll_interval(
                        self.cfg.poll
                    )
                await self.reflect(ctx)
                await self.recover(ctx)
                await self.check(ctx)
                await self.report(ctx)
                await self.split(ctx)
            except (GitHubError, OSError) as exc:
                log.warning("issues: %s", exc)
            await self.sleep(self.reflect_every)

    async def look(self, ctx: SourceContext) -> Look:
        """List the labelled issues; add tasks for new ones, stop the tasks of gone ones."""
        if not self.client.budget.affords(1):
            return Look(listed=len(self._open), added=(), stopped=(), not_modified=True)
        before = self.client.budget.spend.points
        issues, fresh = await self._list()
        self._open = {int(i["number"]): i for i in issues if wanted(i, self.cfg)}
        added = await self._add(ctx)
        added += await self._adopt_for_repair(ctx)
        stopped = await self._stop_gone(ctx)
        self.client.budget.last_cycle_points = self.client.budget.spend.points - before
        return Look(listed=len(self._open), added=added, stopped=stopped, not_modified=not fresh)

    async def _list(self) -> tuple[list[Json], bool]:
        params: dict[str, str | int] = {
            "state": "open", "labels": ",".join(self.cfg.labels), "per_page": 100,
            "sort": "created", "direction": "asc",
        }  # fmt: skip
        if self.cfg.assignee:
            params["assignee"] = self.cfg.assignee
        out: list[Json] = []
        fresh = False
        for page in range(1, _PAGES + 1):
            reply = await self.client.rest(
                "GET", f"{self.base}/issues", params={**params, "page": page}, conditional=True
            )
            fresh = fresh or not reply.not_modified
            batch = reply.data if isinstance(reply.data, list) else []
            out += [i for i in batch if isinstance(i, dict) and "number" in i]
            if len(batch) < 100:
                break
        return out, fresh

    async def _add(self, ctx: SourceContext) -> tuple[str, ...]:
        specs = ctx.state().specs
        new = [
            n
            for n in sorted(self._open)
            if task_id(n) not in specs and sched.rule_of(str(self._open[n].get("body"))) is None
        ]
        added: list[str] = []
        for number in new[: self.cfg.launches_per_poll]:
            if not self.client.budget.affords(1):
                break
            comments = await self._comments(number)
            # Committed before anything acts on it; a restart finds the id taken.
            classes = tuple(ctx.state().config.class_caps)
            await ctx.submit(
                issue_task(self._open[number], comments, at=ctx.clock(), classes=classes)
            )
            added.append(task_id(number))
        if len(new) > len(added):
            log.info("issues: %d more issue(s) wait for the next look (launches_per_poll = %d)",
                     len(new) - len(added), self.cfg.launches_per_poll)  # fmt: skip
        return tuple(added)

    async def _adopt_for_repair(self, ctx: SourceContext) -> tuple[str, ...]:
        """Open PRs with the repair label (a person's too) become `watch` tasks, as
        `plait adopt` makes them: plait rebases them, repairs conflicts and fixes CI, and
        leaves the merge to people."""
        if not self.cfg.repair_label:
            return ()
        reply = await self.client.rest(
            "GET", f"{self.base}/issues", conditional=True,
            params={"state": "open", "labels": self.cfg.repair_label, "per_page": 100},
        )  # fmt: skip
        specs, added = ctx.state().specs, []
        for item in reply.data or []:
            if not isinstance(item, dict) or "pull_request" not in item:
                continue
            number = int(item["number"])
            if f"pr-{number}" in specs:
                continue
            info = pr_info_from(number, (await self.client.rest(
                "GET", f"{self.base}/pulls/{number}")).data)  # fmt: skip
            if info.state != "open":
                continue
            event = adopt_event(info, merge=False, now=ctx.clock())
            lane = LANE_CLASSES["repair_cap"]
            task_class = lane if lane in ctx.state().config.class_caps else None
            spec = replace(event.spec, origin=REPAIR_ORIGIN, task_class=task_class)
            await ctx.submit(replace(event, spec=spec))
            added.append(event.spec.id)
        return tuple(added)

    def _writer(self, ctx: SourceContext) -> IssueWriter:
        """The performer of this engine's `WriteIssue` effects (registered once)."""
        if self._performer is None or self._performer[0] is not ctx:
            writer = IssueWriter(self.client, ctx, sleep=self.sleep)
            ctx.perform(fx.WriteIssue, writer.perform)
            self._performer = (ctx, writer)
        return self._performer[1]

    async def _ask(self, ctx: SourceContext, write: IssueWrite) -> None:
        """Record the write in the event log; its effect does it (see core.issue_write)."""
        self._writer(ctx)
        await ctx.submit(ev.IssueWriteAsked(at=ctx.clock(), write=write))

    async def _stop_gone(self, ctx: SourceContext) -> tuple[str, ...]:
        state = ctx.state()
        stopped: list[str] = []
        for tid, spec in state.specs.items():
            number = issue_of(spec)
            task = state.tasks.get(tid)
            if number is None or task is None or number in self._open:
                continue
            if task.stopped or finishing(task):
                continue
            reason = f"issue #{number} was closed, lost its label or was excluded"
            await ctx.submit(ev.TaskKilled(at=ctx.clock(), task=tid, reason=reason))
            stopped.append(tid)
        return tuple(stopped)

    async def _comments(self, number: int) -> list[Json]:
        reply = await self.client.rest(
            "GET", f"{self.base}/issues/{number}/comments", params={"per_page": 100}
        )
        return [c for c in reply.data or [] if isinstance(c, dict)]

    # ---- reflecting the tasks on their issues ----------------------------------------------
    async def reflect(self, ctx: SourceContext) -> list[tuple[int, str]]:
        """Bring each issue's label and status comment to its task's status; what changed."""
        state = ctx.state()
        changed: list[tuple[int, str]] = []
        for tid, spec in state.specs.items():
            number, task = issue_number(spec), state.tasks.get(tid)
            if number is None or task is None:
                continue
            status = status_of(task, state.config)
            text = status_comment(task, state.config, status, risk_shown(task))
            if ctx.recall(NAME, f"{number}:shown") == text:
                continue
            if not self.client.budget.affords(WRITE_COST):
                break  # the rest waits for the reset; nothing is lost, it is compared again
            label = f"{PREFIX}{status}" if status in STATUSES else ""
            await self._ask(ctx, IssueWrite(kind="status", repo=self.slug, number=number,
                                            key=STATUS_KEY, body=text, label=label))  # fmt: skip
            ctx.remember(NAME, f"{number}:shown", text)
            changed.append((number, status))
        return changed

    # ---- scheduled issues (see sources.issue_schedules) -------------------------------------
    async def check(self, ctx: SourceContext) -> list[str]:
        """Add the check task of each scheduled issue that is due; the ids added."""
        now, added = ctx.clock(), []
        for number, issue in sorted(self._open.items()):
            rule = sched.rule_of(str(issue.get("body") or ""))
            if rule is None:
                continue
            anchor = float(ctx.recall(NAME, f"{number}:anchor") or 0.0)
            if not anchor:
                ctx.remember(NAME, f"{number}:anchor", repr(now))
                continue
            last = float(ctx.recall(NAME, f"{number}:last_due") or 0.0)
            due = sched.latest_due(rule, anchor, last, now)
            if due is None:
                continue
            event = sched.check_task(issue, due, at=now)
            if event.tasks[0].id not in ctx.state().specs:
                await ctx.submit(event)
                added.append(event.tasks[0].id)
            ctx.remember(NAME, f"{number}:last_due", repr(due))
        return added

    async def report(self, ctx: SourceContext) -> list[str]:
        """Post each finished check's answer on its issue, once; the ids reported."""
        state, done = ctx.state(), []
        for tid, spec in state.specs.items():
            task = state.tasks.get(tid)
            if spec.origin != sched.ORIGIN or task is None or task.phase is not Phase.MERGED:
                continue
            if ctx.recall(NAME, f"report:{tid}"):
                continue
            number = issue_of(spec) or 0
            opened = await self._open_work(ctx, spec, task.last_reply, number)
            body = sched.report_of(tid, task.last_reply, opened)
            await self._ask(ctx, IssueWrite(kind="report", repo=self.slug, number=number,
                                            key=f"issue-report:{tid}", body=body))  # fmt: skip
            ctx.remember(NAME, f"report:{tid}", "1")
            done.append(tid)
        return done

    async def _open_work(
        self, ctx: SourceContext, check: TaskSpec, answer: str, number: int
    ) -> tuple[str, ...]:
        """The tasks opened for the work a check found (committed before its report)."""
        work = sched.work_found(check, answer, number, at=ctx.clock())
        if work is None:
            return ()
        fresh = tuple(t for t in work.tasks if t.id not in ctx.state().specs)
        if fresh:
            await ctx.submit(replace(work, tasks=fresh))
        return tuple(t.id for t in work.tasks)

    async def split(self, ctx: SourceContext) -> list[str]:
        """Ask for the follow-up issues implementation agents asked for, once each; the
        keys asked. Each is a `WriteIssue` effect that opens its issue unless one carries
        its marker, so a crash before it was remembered here opens nothing twice."""
        state, asked = ctx.state(), list[str]()
        for tid, spec in state.specs.items():
            number, task = issue_number(spec), state.tasks.get(tid)
            if number is None or task is None or not task.last_reply:
                continue
            for title, body in issue_split.follow_ups(task.last_reply):
                key = issue_split.key(tid, title)
                if ctx.recall(NAME, f"split:{key}"):
                    continue
                text = f"{body.strip()}\n\nSplit from #{number} by plait."
                await self._ask(ctx, IssueWrite(
                    kind="follow-up", repo=self.slug, number=number, key=f"follow-up:{key}",
                    title=title, body=text.strip(), labels=tuple(self.cfg.labels),
                ))  # fmt: skip
                ctx.remember(NAME, f"split:{key}", "asked")
                asked.append(key)
        return asked

    # ---- blocked recovery ----------------------------------------------------------------------
    async def recover(self, ctx: SourceContext) -> list[str]:
        """Retry the blocked tasks whose cooldown is over; the ids retried."""
        state, now = ctx.state(), ctx.clock()
        retried: list[str] = []
        for tid, spec in state.specs.items():
            number, task = issue_number(spec), state.tasks.get(tid)
            if number is None or task is None:
                continue
            status = status_of(task, state.config)
            since_key, count_key = f"{number}:blocked_since", f"{number}:retries"
            if status not in ("blocked", "needs-human"):
                if ctx.recall(NAME, since_key):
                    ctx.remember(NAME, since_key, "")
                continue
            since = float(ctx.recall(NAME, since_key) or 0.0)
            if not since:
                ctx.remember(NAME, since_key, repr(now))
                continue
            retries = int(ctx.recall(NAME, count_key) or 0)
            if not recovery_due(since, retries, self.cfg.cooldowns, now) or self._held(number):
                continue
            ctx.remember(NAME, count_key, str(retries + 1))
            ctx.remember(NAME, since_key, "")
            await ctx.submit(ev.TaskRetried(at=now, task=tid))
            retried.append(tid)
        return retried

    def _held(self, number: int) -> bool:
        listed = self._open.get(number) or {}
        names = {str(label.get("name")) for label in listed.get("labels") or []}
        return bool(names & set(self.cfg.hold_labels))


def not_watched(project: Project) -> str:
    """Why the engine will not watch the project's issues although plait.toml has an
    `[issues]` table ("" when it will, or has none): said by `plait up` too, since the
    engine's own log is read later, if at all."""
    cfg = project.effective().issues
    if cfg is None:
        return ""
    try:
        _where(project, cfg)
    except PlaitError as exc:
        return f"not watching issues: {exc.message} ({exc.hint})"
    return ""


def _where(project: Project, cfg: IssuesConfig) -> tuple[RepoId, Token]:
    """The repository whose issues to watch and the token to read them with."""
    s = project.effective().settings
    slug = cfg.repository or s.slug
    repo = parse_remote(slug) if slug else infer_repo(s.repo, s.remote)
    return repo, resolve_token()


def for_project(project: Project) -> Source | None:
    """The project's `[issues]` source, when plait.toml has one."""
    eff = project.effective()
    cfg = eff.issues
    if cfg is None:
        return None
    s = eff.settings
    try:
        repo, token = _where(project, cfg)
    except PlaitError as exc:
        log.warning("issues: not watching issues: %s (%s)", exc.message, exc.hint)
        return None
    api = s.github_api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API
    client = GitHubClient(token, api_url=api)
    return IssueSource(client, repo.owner, repo.name, cfg, owns_client=True)


FACTORIES.append(for_project)
