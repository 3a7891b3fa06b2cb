"""Merge landing: a reviewer's verdict, then a merge into main under a lock. No forge.

How this works. A task with `landing = "merge"` starts like any task (workspace, agent
turn). What follows its turns is decided here:

    worker turn ─ commits ─▶ VERDICT (reviewer turn) ─ approved ─▶ LAND: sync ─▶ land
        │                     │                                     │        └ refused:
        │                     └ needs changes ─▶ CHANGES turn ─▶ …   │          behind → sync
        │                       (after `rounds` of them: back to     └ conflict  ci → CI turn
        │                        the queue with the notes)              → CONFLICT turn
        ├ "nothing to do" / proposals only ─▶ closed as skipped
        └ no commit, no signal (or a failed turn) ─▶ resumed; after `max_resumes` one
          wrap-up nudge; then the claim goes back to the queue (stuck)

A change touching only ticket files is approved without a reviewer. The verdict and the
sync are operations the scheduler derives from the task's state when it is idle (see
`next_op`), so a crash between two steps loses nothing: the next decision derives them
again. The merge itself happens once: `MergeToMain` marks its commit with a trailer and
looks for it first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.core import events as ev
from plait.core import swarm
from plait.core.cooldown import recovered
from plait.core.model import Op, OpKind, Phase, RunState, TaskState
from plait.core.plan import TaskSpec
from plait.core.reviewing import FORBIDDEN, fix_round, on_reviewed, render_issues
from plait.core.task import agent_of, enqueue
from plait.core.taskmap import put

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace

# The explicit signals a worker's final answer may carry (parsed by the shell).
NOTHING_TO_DO = "NOTHING TO DO"
PROPOSALS_FENCE = "plait-tasks"


def _op_done(t: TaskState) -> TaskState:
    return replace(t, current=None, step="", retry_at=0.0, nudged=False)


# ---- a worker's turn ended ------------------------------------------------------------------
def after_turn(state: RunState, t: TaskState, event: ev.AgentFinished) -> RunState | None:
    """What a worker turn on a merge-landing task leads to; None when the generic handling
    applies (the session is gone, or the CLI is not logged in)."""
    op = t.current
    assert op is not None
    if not event.ok:
        if event.failure in ("session", "auth", "permission"):
            return None
        if event.failure == FORBIDDEN:
            return _broke_a_rule(state, t, event)
        fresh_session = event.failure == "context_overflow"
        return _not_done(state, t, event.error or event.failure, failed=True, fresh=fresh_session)
    state = replace(state, cooldowns=recovered(state.cooldowns, agent_of(state, t.id)))
    t = replace(t, last_reply=event.reply, last_error="", nudged=False)
    new_head = bool(event.head_sha) and event.head_sha != t.head_sha and event.commits_ahead > 0
    if op.kind is OpKind.CONFLICT:
        if not new_head:
            return _not_done(state, t, "the agent finished without resolving the conflict")
        # A resolved sync keeps the approval: the reviewer judged the change, not main.
        t = replace(t, head_sha=event.head_sha, base_sha=op.onto_sha or t.base_sha, resumes=0)
        if t.verdict == "approved":
            t = replace(t, verdict_head=event.head_sha)
        return put(state, _op_done(t))
    if new_head or (op.kind is OpKind.START and event.commits_ahead > 0):
        approved = event.tickets_only
        t = replace(
            t,
            head_sha=event.head_sha,
            resumes=0,
            verdict="approved" if approved else "",
            verdict_head=event.head_sha if approved else "",
        )
        return put(state, _op_done(t))
    if op.kind is OpKind.HUMAN:
        return put(state, _op_done(replace(t, resumes=0)))
    if op.kind is OpKind.CHANGES:
        # Answered without a commit (the worker disagrees): the reviewer looks again.
        return put(state, _op_done(replace(t, verdict="", resumes=0)))
    if op.kind is OpKind.START and (event.nothing_to_do or event.proposed):
        return skip(state, t, event)
    return _not_done(state, t, "the turn ended without a commit or a signal")


def _broke_a_rule(state: RunState, t: TaskState, event: ev.AgentFinished) -> RunState:
    """The worker moved main (the shell put it back): resuming would only invite it again,
    so, as for any task, a person looks; `retry` clears it and the turn runs again."""
    error = event.error or "the agent broke one of plait's rules"
    state = put(state, replace(t, last_error=error, failed=error, retry_at=0.0, nudged=False))
    return swarm.stop_for_person(state, t.id, error)


def skip(state: RunState, t: TaskState, event: ev.AgentFinished) -> RunState:
    """Closed without a change: the agent said there is nothing to do (or only proposed
    follow-up tasks). Final, like a landing."""
    planned = bool(event.proposed)
    reason = event.nothing_to_do or f"proposed {len(event.proposed)} follow-up task(s)"
    t = replace(
        _op_done(t),
        phase=Phase.MERGED,
        finished_at=state.now,
        skipped=reason,
        queue=(),
        resumes=0,
    )
    state = put(state, t)
    return swarm.end_cycle(state, t.id, "planned" if planned else "skipped", reason=reason)


def _not_done(
    state: RunState, t: TaskState, why: str, *, failed: bool = False, fresh: bool = False
) -> RunState:
    """No completion signal: resume the session, then one wrap-up nudge, then give the
    claim back (the turn kind follows `resumes`, see the scheduler's `_turn`)."""
    resumes = t.resumes + 1
    limit = swarm.max_resumes(state, t)
    if resumes > limit:
        why = f"no completion after {limit} resumes and a wrap-up nudge: {why}"
        return swarm.release(put(state, t), t.id, "stuck", why)
    delay = state.config.retry_seconds * 2 ** min(resumes - 1, 6) if failed else 0.0
    t = replace(
        t,
        resumes=resumes,
        last_error=why,
        retry_at=state.now + delay if delay else 0.0,
        session_id="" if fresh else t.session_id,
    )
    return put(state, t)


def turn_kind(state: RunState, t: TaskState) -> str:
    """A resumed worker turn keeps going; the last one before giving up wraps up."""
    return "wrapup" if t.resumes >= swarm.max_resumes(state, t) else "nudge"


# ---- the reviewer's verdict ------------------------------------------------------------------
def on_verdict(state: RunState, t: TaskState, event: ev.Reviewed) -> RunState:
    state, t = on_reviewed(state, t, event)
    if not event.ok and event.failure == FORBIDDEN:
        return swarm.stop_for_person(put(state, t), t.id, t.failed)
    if not event.ok or t.verdict != "needs_changes":
        return put(state, t)
    review = state.config.review
    if state.specs[t.id].landing != "merge":
        if event.comes_back or t.review_rounds > review.rounds:
            return put(state, t)  # its threads come back by the poll (or a person decides)
        # Posted for people only: nothing comes back to answer, so the verdict plait
        # already has is the worker's next turn (else the PR waits forever).
        return put(state, fix_round(t, event))
    if t.review_rounds <= review.rounds:
        return put(state, fix_round(t, event))
    notes = render_issues(event.issues, event.reason)
    why = f"the reviewer asked for changes {t.review_rounds} times"
    if review.exhausted == "queue":
        return swarm.release(put(state, t), t.id, "rejected", why, notes=notes)
    return swarm.end_cycle(put(state, replace(t, notes=notes)), t.id, "rejected", reason=why)


# ---- housekeeping: what an idle task does next ------------------------------------------------
def next_op(state: RunState, t: TaskState) -> Op | None:
    if t.verdict == "approved":
        return Op(kind=OpKind.LAND, onto=state.config.main_branch)
    if not t.verdict and t.head_sha:
        return Op(kind=OpKind.VERDICT)
    return None


# ---- sync and merge --------------------------------------------------------------------------
def on_synced(state: RunState, t: TaskState, event: ev.Rebased) -> RunState:
    t = replace(
        t,
        base_sha=event.base_sha,
        base_branch=state.config.main_branch,
        head_sha=event.head_sha,
        verdict_head=event.head_sha,
        step="land",
    )
    return put(state, t)


def on_sync_conflict(state: RunState, t: TaskState, event: ev.RebaseConflict) -> RunState:
    """Git could not take main's commits: the worker resolves what git could not, told
    both sides' logs and the diff stat; the merge follows without another verdict."""
    op = Op(
        kind=OpKind.CONFLICT,
        key=event.onto_sha,
        paths=event.paths,
        onto=state.config.main_branch,
        onto_sha=event.onto_sha,
        text=event.detail,
    )
    return put(state, enqueue(_op_done(t), op))


def on_refused(state: RunState, t: TaskState, event: ev.MergeRefused) -> RunState:
    if event.why != "ci":
        # Main moved on (or the change no longer merges cleanly): take main's commits again.
        return put(state, replace(t, step="sync", last_error=f"merge refused: {event.why}"))
    c = t.counters
    failures = c.ci_failures + 1
    t = replace(
        _op_done(t),
        counters=replace(c, ci_failures=failures),
        last_error=f"CI failed on {t.head_sha[:7]}",
    )
    if failures < state.config.ci_failure_cap:
        t = enqueue(t, Op(kind=OpKind.CI, key=t.head_sha, text=event.evidence))
    return put(state, t)


# ---- what a worker is told ------------------------------------------------------------------
def worker_brief(state: RunState, t: TaskState, spec: TaskSpec) -> str:
    """What a merge-landing task's first turn adds to its description: the acceptance
    criteria, the files, a reviewer's notes from an earlier attempt, and how to finish."""
    parts = []
    if spec.acceptance:
        items = "\n".join(f"- {a}" for a in spec.acceptance)
        parts.append(f"## Acceptance criteria (a reviewer checks these)\n\n{items}")
    if spec.files:
        parts.append("## Files\n\n" + "\n".join(f"- `{f}`" for f in spec.files))
    if t.riders:
        parts.append(riders_brief(state, t))
    if t.notes:
        parts.append(f"## A reviewer rejected an earlier attempt\n\n{t.notes}")
    finish = (
        "## Finishing\n\n"
        "Commit your change: a reviewer judges it, then plait merges it into main.\n"
        "If the task needs no change at all, commit nothing and end your answer with a "
        f"line `{NOTHING_TO_DO}: <why>`."
    )
    if swarm.may_propose(state, t):
        finish += (
            "\nTo propose follow-up tasks, end your answer with a fenced block "
            f"```{PROPOSALS_FENCE}``` holding a JSON list of tickets "
            '(`{"id", "summary", "description", "acceptance", "files", "dependencies"}`).'
        )
    parts.append(finish)
    return "\n\n".join(parts)


def riders_brief(state: RunState, t: TaskState) -> str:
    """The related tasks claimed with this one, to do in the same change."""
    blocks = []
    for rid in t.riders:
        spec = state.specs[rid]
        block = f"### {rid}: {spec.title}\n\n{spec.description.strip() or '(no description)'}"
        if spec.acceptance:
            block += "\n\nAcceptance criteria:\n" + "\n".join(f"- {a}" for a in spec.acceptance)
        blocks.append(block)
    head = "## Also in this change (related tasks claimed with it: do them too)"
    return "\n\n".join([head, *blocks])
