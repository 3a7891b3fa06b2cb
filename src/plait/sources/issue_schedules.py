"""Scheduled issues: a labelled issue whose body has a line `Schedule: every 6h` or
`Schedule: cron 0 3 * * 1` is a recurring check, not a change to make.

How this works. The issue source never gives such an issue an implementation task. At
each due time it adds one check task, named after the due time
(`issue-<N>-<YYYYMMDD-HHMMSS>`, UTC, as `sources.schedules` names runs), with landing
`none`: the agent looks and answers; it changes no code. When the task is done its answer
goes on the issue as one comment. The issue stays open (plait never closes it) and is
revisited at its interval. Intervals count from when the source first saw the schedule;
cron times are UTC (croniter). Only the latest due time missed while no engine ran is
run, once.

Exactly once per due time, across restarts: the run is submitted before the due time is
remembered as handled, and a restarted engine that finds the due time again sees the
task's id taken and only remembers it. The report carries a hidden marker naming the task
and is looked for before it is posted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from plait.agents.signals import proposals
from plait.core import events as ev
from plait.core.landing import PROPOSALS_FENCE
from plait.core.plan import TaskSpec
from plait.sources.schedules import cron_problem, due_times, run_id

ORIGIN = "github-issue-schedule"
# A cron expression may hold `*`: only blanks end its line (markdown marks end `every`).
_LINE = re.compile(
    r"^[ \t>*_]*schedule:[ \t*_]*(?:every[ \t]+(?P<n>\d+)[ \t]*(?P<unit>[mhd])\w*[ \t*_]*"
    r"|cron[ \t]+(?P<cron>[^\n]*\S)[ \t]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_UNIT = {"m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class Rule:
    every: float = 0.0  # seconds between two checks, or
    cron: str = ""  # a cron expression (UTC)


def rule_of(body: str) -> Rule | None:
    """The issue's schedule, if its body has a valid `Schedule:` line."""
    found = _LINE.search(body or "")
    if found is None:
        return None
    if found["cron"]:
        expression = found["cron"].strip()
        return None if cron_problem(expression) else Rule(cron=expression)
    seconds = int(found["n"]) * _UNIT[found["unit"].lower()]
    return Rule(every=seconds) if seconds > 0 else None


def latest_due(rule: Rule, anchor: float, last: float, now: float) -> float | None:
    """The latest due time in (last, now], or None."""
    if rule.every:
        k = math.floor((now - anchor) / rule.every)
        due = anchor + k * rule.every
        return due if k >= 1 and due > last else None
    dues, _ = due_times(rule.cron, "UTC", max(last, anchor), now)
    return dues[-1] if dues else None


def check_task(issue: Mapping[str, object], due: float, *, at: float) -> ev.TasksAdded:
    number = int(str(issue["number"]))
    title = " ".join(str(issue.get("title") or "").split())[:150]
    tid = run_id(f"issue-{number}", due)
    spec = TaskSpec(
        id=tid,
        title=f"Scheduled check: {title}",
        description=(
            f"A scheduled check of GitHub issue #{number} ({title}). Do what the issue asks "
            "and answer with a short report for the issue. Change no code. If you find "
            "work that needs a change, end your answer with a fenced block whose info "
            f"string is `{PROPOSALS_FENCE}`, holding a JSON list of tickets "
            '({"summary": "...", "description": "..."}, one per change): plait opens a '
            "task and a PR for each."
        ),
        landing="none",
        origin=ORIGIN,
        plan=f"issue-{number}",
    )
    context = f"GitHub issue #{number}: {title}\n\n{issue.get('body') or ''}".strip()
    return ev.TasksAdded(at=at, tasks=(spec,), plan=spec.plan, context=context)


WORK_ORIGIN = "github-issue-schedule-work"


def work_found(check: TaskSpec, answer: str, number: int, *, at: float) -> ev.TasksAdded | None:
    """The changes a check's answer asks for (its `plait-tasks` block), as tasks that
    open PRs. Their ids are the check's id and a number, so a report made again after a
    crash adds nothing new; a PR says `Refs #N`, never `Closes`: the issue stays open."""
    found, _ = proposals(answer, check.id)
    if not found:
        return None
    ids = {spec.id: f"{check.id}-w{n}" for n, spec in enumerate(found, start=1)}
    tasks = tuple(
        TaskSpec(
            id=ids[spec.id],
            title=spec.title,
            description="\n\n".join(
                filter(None, [spec.description, f"Found by the scheduled check `{check.id}`."])
            )
            + f"\n\nRefs #{number}",
            depends_on=tuple(ids[d] for d in spec.depends_on if d in ids),
            files=spec.files,
            landing="pr",
            origin=WORK_ORIGIN,
            plan=check.plan,
        )
        for spec in found
    )
    return ev.TasksAdded(at=at, tasks=tasks, plan=check.plan)


def report_of(task_id: str, answer: str, opened: tuple[str, ...] = ()) -> str:
    text = f"**plait** · scheduled check `{task_id}`\n\n{answer.strip() or '(no answer)'}"
    if opened:
        text += "\n\nplait opened task(s) for the work found: " + ", ".join(
            f"`{t}`" for t in opened
        )
    return text
