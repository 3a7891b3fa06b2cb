"""What `waits_for` says of a task under a dependency that stopped for good."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import cast

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import CIStatus, Phase, RunConfig, RunState, TaskState
from plait.core.plan import TaskSpec
from plait.core.task import display_status
from plait.core.taskmap import TaskMap, live_tasks
from plait.core.waiting import waiting_reason
from plait.engine.executor import Executor
from plait.engine.loop import Engine
from plait.forges.base import Forge
from plait.store import Store
from plait.testing.core_driver import Chaos, CoreDriver
from plait.testing.idle_engine import IdleExecutor, StillForge


def test_a_task_under_a_stopped_dependency_says_it_is_stopped() -> None:
    """Seen in a new-user trial: `ps` said "after a" as if `a` would start in its turn."""
    specs = [
        TaskSpec(id="x", title="do x"),
        TaskSpec(id="a", title="do a"),
        TaskSpec(id="b", title="do b", depends_on=("a",)),
        # x unlocks more, so x takes the one slot and a waits
        TaskSpec(id="y", title="do y", depends_on=("x",)),
        TaskSpec(id="z", title="do z", depends_on=("x",)),
    ]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo", max_concurrency=1))
    d.start()
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a"
    d.feed(ev.TaskKilled(at=d.now, task="a"))
    assert d.st.tasks["a"].stopped
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a (stopped)"


def test_a_task_under_a_started_dependency_says_it_waits_for_it() -> None:
    """Found trying plait: under a dependency that had started (at work, or stopped
    since), `ps` said nothing of why the task waited: only unstarted ones were named."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b", depends_on=("a",))]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo"))
    d.start()
    assert d.st.tasks["a"].in_flight
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a"
    d.feed(ev.TaskKilled(at=d.now, task="a"))
    assert waiting_reason(d.st, d.st.tasks["b"]) == "after a (stopped)"


def test_a_worktree_made_ahead_waits_for_a_slot_as_starting() -> None:
    """A start whose worktree was made while the one agent slot was busy has no agent at
    work: it is "starting", held by the slots, not "working"."""
    specs = [TaskSpec(id="a", title="do a"), TaskSpec(id="b", title="do b")]
    config = RunConfig(project="sim", repo="/sim/repo", max_concurrency=1, prepare_ahead=1)
    d = CoreDriver(specs, config=config)
    d.start()
    for _ in range(4):  # both worktrees made; a's agent at work
        for effect in d.pending(fx.PrepareWorkspace):
            d.answer(effect.id, "ok")
    assert [e.task for e in d.pending(fx.RunAgent)] == ["a"]
    b = d.st.tasks["b"]
    assert b.step == "agent"
    assert display_status(b, d.config) == "starting"
    assert display_status(d.st.tasks["a"], d.config) == "working"
    assert waiting_reason(d.st, b) == "1 of 1 agent slots busy (max_concurrency)"


def test_the_reason_is_the_same_for_an_indexed_state_and_a_decoded_one() -> None:
    """The slots held are read from the live index when the state has one (P8: a face's
    row must not scan every task) and by a scan otherwise: the same words either way."""
    specs = [TaskSpec(id=f"t{i}", title=f"do {i}") for i in range(6)]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo", max_concurrency=2))
    d.start()
    for effect in d.pending(fx.PrepareWorkspace):
        d.answer(effect.id, "ok")
    plain = replace(d.st, tasks=dict(d.st.tasks.items()))  # as decoded: no index
    assert isinstance(d.st.tasks, TaskMap)
    for tid in d.st.tasks:
        assert waiting_reason(d.st, d.st.tasks[tid]) == waiting_reason(plain, plain.tasks[tid])
    assert waiting_reason(d.st, d.st.tasks["t5"]) == "2 of 2 agent slots busy (max_concurrency)"


def test_an_engine_starts_with_its_stored_state_indexed(tmp_path: Path) -> None:
    specs = [TaskSpec(id="a", title="do a")]
    d = CoreDriver(specs, config=RunConfig(project="sim", repo="/sim/repo"))
    d.start()
    store = Store(tmp_path / "plait.db")
    store.commit(ev.Tick(at=d.now), None, d.st, ())
    assert not isinstance(store.load().tasks, TaskMap)  # type: ignore[union-attr]
    engine = Engine(store=store, forge=cast(Forge, StillForge()),
                    executors=cast(Executor, IdleExecutor()))  # fmt: skip
    assert engine.state is not None
    assert isinstance(engine.state.tasks, TaskMap)
    assert engine.state == store.load()
    store.close()


def test_a_github_pr_with_no_check_at_all_says_what_it_waits_for() -> None:
    """Found trying issues on the GitHub double: in a repository without CI, the PR of
    issue-1 stayed a draft and `ps` said `ci` for ever, with no reason: plait merges a
    GitHub PR once its checks pass, and no check ever reported."""
    config = RunConfig(project="sim", repo="/sim/repo", forge="github")
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=config)
    d.run(until=lambda s: s.tasks["a"].pr is not None and not s.tasks["a"].in_flight)
    t = d.st.tasks["a"]
    assert t.pr is not None
    silent = replace(t, pr=replace(t.pr, ci=CIStatus.NONE, head_sha=t.head_sha))
    state = replace(d.st, tasks={**d.st.tasks, "a": silent})
    assert display_status(silent, config) == "ci"
    why = waiting_reason(state, silent)
    assert f"no CI check has reported on {t.head_sha[:7]}" in why
    assert "without CI" in why
    # a check under way, or the local forge (whose own CI says "none configured"), is not that
    pending = replace(silent, pr=replace(t.pr, ci=CIStatus.PENDING, head_sha=t.head_sha))
    assert waiting_reason(replace(state, tasks={**state.tasks, "a": pending}), pending) == ""
    local = replace(state, config=replace(config, forge="local"))
    assert waiting_reason(local, silent) == ""


def test_the_live_tasks_hold_every_task_under_way_active_or_timed() -> None:
    """`live_tasks`, what the faces, the poller and the wake-up read (one helper where
    the engine and `waiting` each wrote it out): from the index when the state has one,
    every task otherwise; the tasks under way, active or timed are the same either way."""
    specs = [
        TaskSpec(id=f"t{i}", title=f"do {i}", depends_on=(f"t{i - 1}",) if i % 3 else ())
        for i in range(9)
    ]
    d = CoreDriver(
        specs,
        config=RunConfig(project="sim", repo="/sim/repo", max_concurrency=3),
        seed=3,
        chaos=Chaos(ci_fail=0.3, review=0.3),
    )

    def moving(tasks: Iterable[TaskState]) -> list[str]:
        return [t.id for t in tasks if t.in_flight or t.phase is Phase.ACTIVE or t.retry_at]

    seen = 0

    def check(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        nonlocal seen
        state = decision.state
        assert isinstance(state.tasks, TaskMap)
        plain = replace(state, tasks=dict(state.tasks.items()))
        assert [t.id for t in live_tasks(plain)] == list(state.order)
        assert moving(live_tasks(state)) == moving(state.tasks.values())
        seen += bool(moving(state.tasks.values()))

    d.observers.append(check)
    d.run()
    assert seen > 50
