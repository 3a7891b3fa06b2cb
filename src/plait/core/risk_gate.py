"""The risk gate: a PR merges only once its head's risk is known, and as its tier says.

How this works. With `[risk]` rules (`RunConfig.risk`) or path classes
(`RunConfig.class_paths`), a PR task whose head has no assessment yet gets a `RISK`
operation as soon as it is idle with its PR open — before CI can turn green, so a fast CI
never merges an unassessed change. Its one step runs `AssessRisk` (git diff of the
branch, classified in the shell; the PR gets its `plait:risk-<tier>` label there, looked
for before it is added), and `RiskAssessed` records the tier on the task for that head.
Each new head is assessed again; a result naming a stale effect is dropped, so an
assessment interrupted by a crash is redone, never recorded twice.

The merge gate then routes by tier:

    low           merge as the gate allows (CI, threads, the [review] verdict)
    double-check  a second, distinct reviewer turn (`SECOND`) must approve this head too;
                  its needs-changes goes to the fix lane like the first reviewer's
    human         the landing becomes `watch`: plait keeps the PR green, a person merges
                  (sticky: a later, smaller head does not undo a person's review)

Pure, like the rest of the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Op, OpKind, Phase, Reviewer, RunState, TaskState
from plait.core.taskmap import put

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace

SECOND = "double-check"  # the key of the second reviewer's VERDICT operation


def assessing(state: RunState) -> bool:
    """Does this project assess PR heads at all?"""
    return state.config.risk_rules is not None or bool(state.config.class_paths)


def wants_assessment(state: RunState, t: TaskState) -> bool:
    """A PR task whose pushed head has not been assessed yet."""
    if not assessing(state) or state.specs[t.id].landing != "pr":
        return False
    pr = t.pr
    return pr is not None and pr.state == "open" and bool(t.head_sha) and t.risk_head != t.head_sha


def assess_effect(state: RunState, t: TaskState, effect_id: str) -> fx.AssessRisk:
    return fx.AssessRisk(
        id=effect_id,
        task=t.id,
        worktree=t.worktree,
        base_sha=t.base_sha,
        head_sha=t.head_sha,
        pr=t.pr.number if t.pr is not None else 0,
        rules=state.config.risk_rules,
        classes=state.config.class_paths,
    )


def on_assessed(state: RunState, t: TaskState, event: ev.RiskAssessed) -> RunState:
    """Record the tier for the head it judged; a `human` tier routes the task to a
    person's merge."""
    t = replace(
        t,
        current=None,
        step="",
        retry_at=0.0,
        risk=event.tier,
        risk_reason=event.reason,
        risk_head=event.head_sha,
        path_classes=event.classes,
    )
    state = put(state, t)
    spec = state.specs[t.id]
    if event.tier == "human" and spec.landing == "pr" and t.phase is Phase.ACTIVE:
        specs = {**dict(state.specs), t.id: replace(spec, landing="watch")}
        state = replace(state, specs=specs)
    return state


# ---- the second reviewer (double-check tier) ---------------------------------------------
def second_look(t: TaskState) -> bool:
    """Is the task's current verdict the double-check reviewer's?"""
    op = t.current
    return op is not None and op.kind is OpKind.VERDICT and op.key == SECOND


def second_chain(state: RunState) -> tuple[Reviewer, ...]:
    """Who gives the double-check verdict: `[risk] double_check_reviewer`, else the
    `[review]` chain from its second reviewer on, else its first (a turn of its own)."""
    rules = state.config.risk_rules
    if rules is not None and rules.second:
        return rules.second
    chain = state.config.review.reviewers or (Reviewer(agent=state.config.agent),)
    return chain[1:] + chain[:1] if len(chain) > 1 else chain


def note_second(state: RunState, task_id: str, event: ev.Reviewed) -> RunState:
    """Remember the double-check verdict for the head it judged (a verdict was given)."""
    t = state.tasks[task_id]
    if not event.ok or t.current is not None:
        return state  # no verdict: the round goes on down the chain
    outcome = "approved" if event.approved else "needs_changes"
    return put(state, replace(t, second_verdict=outcome, second_head=t.head_sha))


# ---- the gate -------------------------------------------------------------------------------
def merge_step(state: RunState, t: TaskState) -> Op | None:
    """What the merge gate does for a PR that CI and review allow: merge, ask the second
    reviewer, or wait (no assessment of this head yet; a person's merge; changes asked)."""
    if state.config.risk_rules is None:
        return Op(kind=OpKind.MERGE)
    if t.risk_head != t.head_sha or t.risk == "human":
        return None
    if t.risk != "double-check":
        return Op(kind=OpKind.MERGE)
    if t.second_head != t.head_sha:
        return Op(kind=OpKind.VERDICT, key=SECOND)
    return Op(kind=OpKind.MERGE) if t.second_verdict == "approved" else None


def shown(t: TaskState) -> str:
    """The tier as the faces show it: "double-check (touches src/auth/x.py)"."""
    if not t.risk:
        return ""
    return f"{t.risk} ({t.risk_reason})" if t.risk_reason else t.risk


def holding(state: RunState, t: TaskState) -> str:
    """Why the risk gate holds an otherwise mergeable PR ("" when it does not)."""
    if state.config.risk_rules is None or t.phase is not Phase.ACTIVE:
        return ""
    landing = state.specs[t.id].landing
    if landing == "watch" and t.risk == "human":
        return "a person's merge (risk: human)"
    if landing != "pr":
        return ""
    if t.risk_head != t.head_sha:
        return "risk not assessed for this head yet"
    if t.risk == "double-check" and not (
        t.second_head == t.head_sha and t.second_verdict == "approved"
    ):
        return "a second reviewer's approval (risk: double-check)"
    return ""
