"""`decode(encode(x)) == x` for every event, every effect and a lived-in RunState.

The store keeps events and effects as JSON; replay and crash recovery depend on getting
back exactly the values that were written.
"""

from __future__ import annotations

import json
from typing import TypedDict

import pytest

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import (
    Budget,
    CIStatus,
    IssueWrite,
    Overlap,
    PRView,
    ReviewConfig,
    Reviewer,
    ReviewThread,
    RiskRules,
    RunConfig,
    Usage,
    WorkerGroup,
)
from plait.core.plan import Restart, TaskSpec
from plait.testing.core_driver import Chaos, CoreDriver, Timing, specs_from

THREAD = ReviewThread(id="t1", body="why?", author="ann", path="src/x.py", line=3, outdated=True)
USAGE = Usage(
    input_tokens=1,
    output_tokens=2,
    cache_read_tokens=3,
    cache_write_tokens=4,
    reasoning_tokens=5,
    cost_usd=0.125,
)
VIEW = PRView(
    number=7,
    state="open",
    draft=False,
    base="main",
    head_sha="abc",
    ci=CIStatus.FAILED,
    ci_evidence="boom",
    mergeable=None,
    threads=(THREAD,),
    url="u",
)
CONFIG = RunConfig(
    project="p",
    repo="/r",
    max_concurrency=2,
    class_caps={"INFRA": 1},
    agent_caps={"codex": 2},
    retry_seconds=0.5,
    budget=Budget(tokens=10**9),
    task_budget=Budget(dollars=500.0),
    notify_on=("attention", "idle"),
    hold_overlapping=True,
    sync="merge",
    review=ReviewConfig(
        reviewers=(Reviewer(agent="codex", model="m", effort="low"), Reviewer(agent="claude")),
        rounds=2,
        exhausted="attention",
        prompts=("/r.md",),
        prs=True,
    ),
    workers=(WorkerGroup(name="w", agent="claude", prompts=("/w.md",), count=3, wait=1.5),),
)
SPEC = TaskSpec(
    id="a",
    title="A",
    description="d",
    task_class="INFRA",
    depends_on=("z",),
    acceptance=("works",),
    files=("x.py",),
    queue="tasks",
    landing="merge",
)


class _Result(TypedDict):
    at: float
    effect_id: str
    task: str


class _Effect(TypedDict):
    id: str
    task: str


R: _Result = {"at": 12.5, "effect_id": "a/3/push", "task": "a"}
TURN = fx.Turn(
    kind="review",
    title="T",
    description="D",
    branch="b",
    base_branch="main",
    text="x",
    paths=("p.py", "q.py"),
    threads=(THREAD,),
    onto="main",
    summary="s",
)
E: _Effect = {"id": "a/3/x", "task": "a"}
ISSUE_WRITE = IssueWrite(kind="follow-up", repo="o/r", number=3, key="follow-up:t/abc",
                         body="b", label="", title="t", labels=("plait", "x"))  # fmt: skip

EVENTS: list[ev.Event] = [
    ev.RunStarted(at=1.0, config=CONFIG, tasks=(SPEC,), title="t", context="c"),
    ev.Tick(at=2.0),
    ev.StepDone(**R),
    ev.StepFailed(**R, error="e", retryable=False),
    ev.WorkspaceReady(**R, path="/w", base_sha="b0"),
    ev.AgentFinished(
        **R,
        ok=False,
        session_id="s",
        usage=USAGE,
        seconds=1.5,
        reply="r",
        error="e",
        failure="rate_limit",
        commits_ahead=2,
        head_sha="h",
        exit_code=3,
        nothing_to_do="why",
        proposed=(SPEC,),
        tickets_only=True,
    ),
    ev.Pushed(**R, head_sha="h"),
    ev.PROpened(**R, number=3, url="u"),
    ev.Rebased(**R, head_sha="h", base_sha="b"),
    ev.RebaseConflict(**R, paths=("x", "y"), onto_sha="o", detail="logs"),
    ev.Merged(**R, sha="m"),
    ev.PRChanged(at=3.0, task="a", pr=VIEW),
    ev.HumanMessage(at=4.0, task="a", text="hi ✓", message_id="m1"),
    ev.TaskAdopted(
        at=5.0,
        spec=TaskSpec(id="pr-7", title="Fix it", landing="watch"),
        pr=7,
        branch="fix",
        base="main",
        head_sha="h",
    ),
    ev.TasksAdded(
        at=6.0,
        tasks=(TaskSpec(id="p2.1", title="Two", plan="p2", origin="plan", model="m"),),
        plan="p2",
        context="ctx",
    ),
    ev.TasksAdded(
        at=6.5,
        tasks=(
            TaskSpec(
                id="m1",
                title="Look around",
                landing="none",
                origin="mission",
                name="look-around",
                parent="m0",
                restart=Restart(policy="on-failure", max_restarts=2, window=60.0, backoff=0.5),
                cwd="/somewhere",
                activity_timeout=30.0,
                allowed_tools=("Bash", "Read"),
                ports=("web", "db"),
                command=("make", "serve"),
                template="lead",
                team=True,
            ),
        ),
    ),
    ev.TaskKilled(at=7.0, task="a", reason="enough", cascade=True),
    ev.TaskRetried(at=8.0, task="a", cascade=True),
    ev.TaskReset(at=9.0, task="a", hard=True),
    ev.ConfigChanged(at=10.0, config=CONFIG),
    ev.BudgetSet(at=11.0, task="a", tokens=5000, dollars=1.25),
    ev.BudgetSet(at=11.5),
    ev.NotificationSent(**R, ok=False, error="timed out"),
    ev.OverlapsChanged(
        at=12.0, task="a", overlaps=(Overlap(task="b", paths=("x.py",)), Overlap(paths=("y",)))
    ),
    ev.Reviewed(
        **R,
        ok=True,
        approved=False,
        issues=("add a test", "name it well"),
        reason="r",
        agent="codex",
        model="m",
        session_id="s",
        usage=USAGE,
        seconds=2.5,
        failure="",
        error="",
        reset_at=12.0,
    ),
    ev.MergeRefused(**R, why="ci", evidence="boom", main_sha="m"),
    ev.SwarmStarted(at=11.0),
    ev.SwarmStopping(at=12.0),
    ev.LandingRouted(at=13.0, task="t1", landing="watch", reason="risk: touches migrations/1.sql"),
    ev.IssueWriteAsked(at=14.0, write=ISSUE_WRITE),
    ev.IssueWritten(**R, ok=False, error="#3: Not Found", number=3),
    ev.RiskAssessed(
        at=14.0,
        effect_id="t1/9/risk",
        task="t1",
        head_sha="abc",
        tier="double-check",
        reason="touches src/auth/a.py",
        classes=("E2E",),
    ),
]
EFFECTS: list[fx.Effect] = [
    fx.PrepareWorkspace(**E, branch="b", base_branch="main"),
    fx.PrepareWorkspace(**E, branch="", base_branch="main", cwd="/d"),
    fx.RunAgent(**E, agent="codex", worktree="/w", base_sha="b", session_id="s", turn=TURN),
    fx.RunAgent(
        **E,
        agent="command",
        worktree="/d",
        base_sha="",
        session_id="",
        turn=fx.Turn(
            kind="start",
            title="T",
            description="D",
            branch="",
            base_branch="main",
            template="mission",
            in_place=True,
        ),
        launch=fx.Launch(
            name="n",
            parent="m0",
            in_place=True,
            idle_timeout=5.0,
            allowed_tools=("Read",),
            ports=("web",),
            command=("make", "serve"),
        ),
    ),
    fx.RunAgent(
        **E,
        agent="codex",
        worktree="/w",
        base_sha="b",
        session_id="s",
        turn=TURN,
        effort="high",
        prompts=("/w.md",),
        tickets="tasks",
        proposals=True,
    ),
    fx.Push(**E, branch="b", worktree="/w", force=True),
    fx.OpenPR(**E, branch="b", base="main", title="t", body="body\n"),
    fx.MarkReady(**E, pr=3),
    fx.Retarget(**E, pr=3, base="main"),
    fx.Rebase(**E, worktree="/w", branch="b", onto="main", upstream="u", by_merge=True),
    fx.ResolveThreads(**E, pr=3, thread_ids=("t1", "t2"), reply="done"),
    fx.Merge(**E, pr=3, branch="b", title="t"),
    fx.Cleanup(**E, worktree="/w", branch="b", keep=True),
    fx.Discard(**E, worktree="/w", branch="b", pr=3),
    fx.Notify(**E, kind="attention", title="t", text="x", url="u"),
    fx.WriteIssue(**E, write=ISSUE_WRITE),
    fx.RunReviewer(
        **E,
        agent="claude",
        worktree="/w",
        base_sha="b",
        head_sha="h",
        title="t",
        description="d",
        acceptance=("it works",),
        round=2,
        feedback=("1",),
        reply="r",
        model="m",
        effort="high",
        prompts=("/p.md",),
        pr=3,
    ),
    fx.MergeToMain(**E, branch="b", worktree="/w", main="main", title="t", since=3.0),
    fx.AssessRisk(
        **E,
        worktree="/w",
        base_sha="a",
        head_sha="b",
        pr=3,
        rules=RiskRules(human=("migrations/**",), max_files=20, second=(Reviewer(agent="codex"),)),
        classes={"E2E": ("e2e/**",)},
    ),
]


def _through_json(value: object) -> codec.JSON:
    encoded = codec.encode(value)
    return json.loads(json.dumps(encoded))  # type: ignore[no-any-return]


def test_samples_cover_every_type() -> None:
    assert {type(e) for e in EVENTS} == set(ev.EVENT_TYPES)
    assert {type(e) for e in EFFECTS} == set(fx.EFFECT_TYPES)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_round_trips(event: ev.Event) -> None:
    assert codec.decode_event(_through_json(event)) == event


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: type(e).__name__)
def test_every_effect_round_trips(effect: fx.Effect) -> None:
    assert codec.decode_effect(_through_json(effect)) == effect


def test_a_decoded_value_keeps_its_exact_type() -> None:
    decoded = codec.decode_event(_through_json(EVENTS[3]))
    assert type(decoded) is ev.StepFailed
    with pytest.raises(codec.CodecError):
        codec.decode_typed(ev.Pushed, _through_json(EVENTS[3]))


def test_every_state_of_a_lived_in_run_round_trips() -> None:
    chaos = Chaos(agent_fail=0.2, step_fail=0.1, ci_fail=0.3, conflict=0.3, review=0.3)
    specs = specs_from({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
    d = CoreDriver(specs, config=CONFIG, seed=5, chaos=chaos, timing=Timing(jitter=0.5))
    d.start()
    d.human("a", "hello")
    d.run(auto_human=True)
    assert len(d.decisions) > 30
    for decision in d.decisions:
        assert codec.decode_state(_through_json(decision.state)) == decision.state
    for event in d.log:
        assert codec.decode_event(_through_json(event)) == event
