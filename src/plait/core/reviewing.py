"""The reviewer step: an agent's verdict on a task's change, scheduled like any turn.

How this works. A task whose change needs judging gets a `VERDICT` operation (merge landing:
after every worker turn that changed the branch; PR landing with `[review] prs`: once the
PR's merge gate opens for a head no verdict judged yet). Its one step, `verdict`, runs a
`RunReviewer` effect on the reviewer's own backend and model — it takes a slot of that
backend, not the worker's — and its result, `Reviewed`, carries the verdict the shell
parsed (`plait.review.verdict`). The verdict is landing-independent: what follows it is
the landing's business (a fix round or a merge here; threads on the PR there).

Reviewers form a fallback chain: a reviewer that gives no verdict (crash, limit) hands the
round to the next one; a backend cooling down is passed over while another is free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.cooldown import LIMIT_FAILURES, cool_down, cooling, recovered
from plait.core.model import LogEntry, Op, OpKind, Reviewer, RunState, TaskState
from plait.core.risk_gate import second_chain, second_look
from plait.core.task import enqueue

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace


# What the shell reports for a turn that broke one of plait's rules (it touched main).
FORBIDDEN = "forbidden"


def chain(state: RunState) -> tuple[Reviewer, ...]:
    return state.config.review.reviewers or (Reviewer(agent=state.config.agent),)


def reviewer_for(state: RunState, t: TaskState) -> Reviewer:
    """Who gives the task's next verdict: down the chain past those that gave none this
    round, and past a backend cooling down while another is not. A double-check round
    has its own chain (`risk_gate.second_chain`)."""
    options = second_chain(state) if second_look(t) else chain(state)
    start = t.reviewer_tries % len(options)
    ordered = options[start:] + options[:start]
    for reviewer in ordered:
        if not cooling(state.cooldowns, reviewer.agent, state.now):
            return reviewer
    return ordered[0]


def wants_pr_verdict(state: RunState, t: TaskState) -> bool:
    """A PR landing judged by a reviewer: the head on the PR has no verdict yet."""
    return state.config.review.prs and t.verdict_head != t.head_sha


def pr_approved(state: RunState, t: TaskState) -> bool:
    return not state.config.review.prs or (t.verdict == "approved" and t.verdict_head == t.head_sha)


def last_issues(t: TaskState) -> tuple[str, ...]:
    """The issues of this attempt's last needs-changes verdict, for the reviewer to check
    (nothing on the first round of an attempt)."""
    if not t.review_rounds:
        return ()
    for entry in reversed(t.log):
        if entry.kind == "review":
            return entry.issues if entry.outcome == "needs_changes" else ()
    return ()


def reviewer_effect(state: RunState, t: TaskState, effect_id: str) -> fx.RunReviewer:
    spec = state.specs[t.id]
    reviewer = reviewer_for(state, t)
    pr = t.pr.number if t.pr is not None and spec.landing == "pr" else 0
    description, acceptance = spec.description, spec.acceptance
    for rid in t.riders:  # related tasks done in the same change
        rider = state.specs[rid]
        description += f"\n\nAlso {rid}: {rider.title}\n{rider.description}".rstrip()
        acceptance += tuple(f"{rid}: {a}" for a in rider.acceptance)
    return fx.RunReviewer(
        id=effect_id,
        task=t.id,
        agent=reviewer.agent,
        model=reviewer.model,
        effort=reviewer.effort,
        worktree=t.worktree,
        base_sha=t.base_sha,
        head_sha=t.head_sha,
        title=spec.title,
        description=description,
        acceptance=acceptance,
        round=t.review_rounds + 1,
        feedback=last_issues(t),
        reply=t.last_reply,
        prompts=state.config.review.prompts,
        pr=pr,
    )


def render_issues(issues: tuple[str, ...], reason: str = "") -> str:
    """Numbered issues as the worker's next turn reads them."""
    lines = [f"{n}. {issue}" for n, issue in enumerate(issues, start=1)]
    if reason:
        lines.append(f"(Note: {reason})")
    return "\n".join(lines) or reason or "The reviewer asked for changes without saying which."


def on_reviewed(state: RunState, t: TaskState, event: ev.Reviewed) -> tuple[RunState, TaskState]:
    """Take a verdict (or the lack of one) into the task; the landing decides what follows
    a needs-changes verdict (see `needs_changes`)."""
    t = replace(t, usage=t.usage + event.usage, agent_seconds=t.agent_seconds + event.seconds)
    if not event.ok:
        return _no_verdict(state, t, event)
    state = replace(state, cooldowns=recovered(state.cooldowns, event.agent))
    outcome = "approved" if event.approved else "needs_changes"
    entry = LogEntry(
        kind="review",
        at=event.at,
        worker=t.worker,
        outcome=outcome,
        started_at=round(event.at - event.seconds, 6),
        agent=event.agent,
        model=event.model,
        session_id=event.session_id,
        usage=event.usage,
        seconds=event.seconds,
        round=t.review_rounds + 1,
        issues=event.issues,
        reason=event.reason,
    )
    t = replace(
        t,
        log=(*t.log, entry),
        reviewer_tries=0,
        counters=replace(t.counters, review_failures=0),
        verdict=outcome,
        verdict_head=t.head_sha,
        current=None,
        step="",
        retry_at=0.0,
    )
    if not event.approved:
        t = replace(t, review_rounds=t.review_rounds + 1, last_error=_last_word(event))
    return state, t


def _last_word(event: ev.Reviewed) -> str:
    """What the reviewer said against the change, in one line: why its answer counted as
    needs-changes, else its first issue ("" when it said nothing). When the rounds run out,
    the task's reason reads "the reviewer asked for changes N times: <this>"."""
    if event.reason:
        return event.reason
    if not event.issues:
        return ""
    first = " ".join(event.issues[0].split())
    first = first if len(first) <= _SAID else first[: _SAID - 1] + "…"
    more = len(event.issues) - 1
    return f"{first} (and {more} more)" if more else first


_SAID = 160  # characters of the reviewer's first issue in the task's reason


def fix_round(t: TaskState, event: ev.Reviewed) -> TaskState:
    """Queue the worker's next turn: the latest issues, in its own session."""
    op = Op(
        kind=OpKind.CHANGES,
        key=f"round-{t.review_rounds}",
        text=render_issues(event.issues, event.reason),
    )
    return enqueue(t, op)


def _no_verdict(state: RunState, t: TaskState, event: ev.Reviewed) -> tuple[RunState, TaskState]:
    """No verdict: the next reviewer of the chain takes the round (the op stays)."""
    error = f"reviewer {event.agent}: {event.error or event.failure or 'no verdict'}"
    t = replace(t, reviewer_tries=t.reviewer_tries + 1, last_error=error)
    if event.failure == FORBIDDEN:
        # The reviewer moved main (the shell put it back): as for a worker, a person
        # looks before anything runs again; `retry` clears it and the round goes on.
        return state, replace(t, failed=error, retry_at=0.0)
    if event.failure in LIMIT_FAILURES:
        cooldowns = cool_down(
            state.cooldowns,
            event.agent,
            failure=event.failure,
            now=state.now,
            reset_at=event.reset_at,
            base=state.config.cooldown_seconds,
        )
        return replace(state, cooldowns=cooldowns), t
    failures = t.counters.review_failures + 1
    delay = state.config.retry_seconds * 2 ** min(failures - 1, 6)
    t = replace(
        t,
        counters=replace(t.counters, review_failures=failures),
        retry_at=state.now + delay,
    )
    return state, t
