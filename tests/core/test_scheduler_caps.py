"""Concurrency caps, start order and stable effect ids, through the real controller."""

from __future__ import annotations

from collections import Counter

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import OpKind, Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.core.progress import all_merged
from plait.core.scheduler import uses_slot
from plait.testing.core_driver import Chaos, CoreDriver, Timing, chain, specs_from


def _config(**kw: object) -> RunConfig:
    return RunConfig(project="p", repo="/r", **kw)  # type: ignore[arg-type]


def _started(d: CoreDriver) -> list[str]:
    return [e.task for e in d.decided(fx.PrepareWorkspace)]


def _spec(tid: str, cls: str | None = None, agent: str | None = None) -> TaskSpec:
    return TaskSpec(id=tid, title=tid, task_class=cls, agent=agent)


def test_global_cap_limits_starts() -> None:
    d = CoreDriver([_spec(f"t{i}") for i in range(5)], config=_config(max_concurrency=2))
    d.start()
    assert _started(d) == ["t0", "t1"]


def test_class_cap_limits_one_class_only() -> None:
    specs = [_spec("i1", "INFRA"), _spec("i2", "INFRA"), _spec("i3", "INFRA"), _spec("b1", "GATED")]
    d = CoreDriver(specs, config=_config(max_concurrency=4, class_caps={"INFRA": 1}))
    d.start()
    assert _started(d) == ["i1", "b1"]


def test_agent_cap_limits_one_backend_only() -> None:
    specs = [_spec("c1", agent="codex"), _spec("c2", agent="codex"), _spec("s1"), _spec("s2")]
    d = CoreDriver(specs, config=_config(max_concurrency=3, agent_caps={"codex": 1}))
    d.start()
    assert _started(d) == ["c1", "s1", "s2"]
    for effect in d.pending(fx.PrepareWorkspace):
        d.answer(effect.id)
    assert [e.agent for e in d.pending(fx.RunAgent)] == ["codex", "script", "script"]


def test_longest_critical_path_starts_first() -> None:
    specs = [*specs_from({"x": [], "y": []}), *chain(3, prefix="c")]
    d = CoreDriver(specs, config=_config(max_concurrency=1))
    d.start()
    assert _started(d) == ["c0"]


def _slot_watch(d: CoreDriver, peaks: Counter[str]) -> None:
    def observe(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        state = decision.state
        busy = [t for t in state.order if uses_slot(state.tasks[t]) and state.tasks[t].in_flight]
        peaks["all"] = max(peaks["all"], len(busy))
        for cls, n in Counter(state.specs[t].task_class or "-" for t in busy).items():
            peaks[cls] = max(peaks[cls], n)
        agents = d.pending(fx.RunAgent)
        peaks["agents"] = max(peaks["agents"], len(agents))

    d.observers.append(observe)


def test_worktrees_are_made_ahead_while_every_slot_is_busy() -> None:
    """P3: a freed slot starts the next agent at once, its worktree made during the turns
    before; the worktrees ahead take no agent slot."""
    config = _config(max_concurrency=2, prepare_ahead=2)
    d = CoreDriver([_spec(f"t{i}") for i in range(6)], config=config)
    d.start()
    assert _started(d) == ["t0", "t1"]  # the first ones alone: their agents start sooner
    while d.pending(fx.PrepareWorkspace):
        d.answer(d.pending(fx.PrepareWorkspace)[0].id)
    assert _started(d) == ["t0", "t1", "t2", "t3"]
    assert [e.task for e in d.pending(fx.RunAgent)] == ["t0", "t1"]
    decision = d.answer(d.pending(fx.RunAgent, "t0")[0].id)
    turns = [e.task for e in decision.effects if isinstance(e, fx.RunAgent)]
    worktrees = [e.task for e in decision.effects if isinstance(e, fx.PrepareWorkspace)]
    assert (turns, worktrees) == (["t2"], ["t4"])


def test_without_prepare_ahead_a_worktree_takes_its_slot() -> None:
    d = CoreDriver([_spec(f"t{i}") for i in range(4)], config=_config(max_concurrency=2))
    d.start()
    assert _started(d) == ["t0", "t1"]


def test_caps_hold_with_worktrees_made_ahead() -> None:
    classes = ["INFRA", "GATED", "BEHAVIOR"]
    specs = [
        TaskSpec(id=f"t{i}", title="x", task_class=classes[i % 3], depends_on=deps)
        for i, deps in enumerate([()] * 6 + [("t0",), ("t1", "t2"), ("t3",), ("t4",)] * 2)
    ]
    config = _config(max_concurrency=3, class_caps={"INFRA": 1}, prepare_ahead=3)
    chaos = Chaos(agent_fail=0.2, step_fail=0.1, ci_fail=0.2, conflict=0.2, review=0.2)
    d = CoreDriver(specs, config=config, seed=7, chaos=chaos, timing=Timing(jitter=0.5))
    peaks: Counter[str] = Counter()

    def observe(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        turns = d.pending(fx.RunAgent)
        peaks["agents"] = max(peaks["agents"], len(turns))
        infra = [e for e in turns if d.st.specs[e.task].task_class == "INFRA"]
        peaks["INFRA"] = max(peaks["INFRA"], len(infra))
        # A start its class cap holds is not made ahead: it waits, with its reason.
        worktrees = [e.task for e in d.pending(fx.PrepareWorkspace)]
        started = [t for t in d.st.tasks.values() if t.phase is not Phase.WAITING]
        infra_open = [
            t.id
            for t in started
            if d.st.specs[t.id].task_class == "INFRA"
            and t.current is not None
            and t.current.kind is OpKind.START
            and (t.step in ("workspace", "agent") or t.id in worktrees)
        ]
        peaks["INFRA open"] = max(peaks["INFRA open"], len(infra_open))
        peaks["worktrees"] = max(peaks["worktrees"], len(d.pending(fx.PrepareWorkspace)))

    d.observers.append(observe)
    assert all_merged(d.run(auto_human=True))
    assert peaks["agents"] == 3
    assert peaks["INFRA"] == 1
    assert peaks["INFRA open"] == 1
    assert peaks["worktrees"] == 3


def test_caps_hold_through_a_whole_run_with_failures() -> None:
    classes = ["INFRA", "GATED", "BEHAVIOR"]
    specs = [
        TaskSpec(id=f"t{i}", title="x", task_class=classes[i % 3], depends_on=deps)
        for i, deps in enumerate([()] * 6 + [("t0",), ("t1", "t2"), ("t3",), ("t4",)] * 2)
    ]
    config = _config(max_concurrency=3, class_caps={"INFRA": 1, "GATED": 2})
    chaos = Chaos(agent_fail=0.2, step_fail=0.1, ci_fail=0.2, conflict=0.2, review=0.2)
    d = CoreDriver(specs, config=config, seed=7, chaos=chaos, timing=Timing(jitter=0.5))
    peaks: Counter[str] = Counter()
    _slot_watch(d, peaks)
    assert all_merged(d.run(auto_human=True))
    assert "fail" in {outcome for _, outcome in d.executed}
    assert peaks["all"] == 3
    assert peaks["agents"] <= 3
    assert peaks["INFRA"] == 1
    assert peaks["GATED"] <= 2


def _ids(seed: int) -> list[str]:
    chaos = Chaos(agent_fail=0.2, ci_fail=0.2, review=0.2)
    d = CoreDriver(chain(4), seed=seed, chaos=chaos, timing=Timing(jitter=0.3))
    d.run(auto_human=True)
    return [e.id for dec in d.decisions for e in dec.effects]


def test_effect_ids_are_stable_and_unique() -> None:
    first, again = _ids(3), _ids(3)
    assert first == again
    assert len(set(first)) == len(first)
    for effect_id in first:
        task, n, step = effect_id.split("/")
        assert task.startswith("t")
        assert int(n) > 0
        assert step


def test_replaying_events_gives_the_same_effect_ids() -> None:
    d = CoreDriver(chain(3), seed=1, chaos=Chaos(ci_fail=0.3))
    d.run(auto_human=True)
    again = CoreDriver(chain(3))
    for event in d.log:
        again.feed(event)
    assert [dec.effects for dec in again.decisions] == [dec.effects for dec in d.decisions]
    assert again.state == d.state


def test_feedback_takes_a_scarce_slot_before_a_new_start() -> None:
    d = CoreDriver(specs_from({"a": [], "b": [], "c": []}), config=_config(max_concurrency=1))
    d.script("a", "ci", "fail")
    d.run(until=lambda s: s.tasks["a"].pr is not None)
    (b_turn,) = d.pending(fx.RunAgent, "b")  # b took the slot a's PR freed
    d.finish_ci("a")
    d.poll()  # a's CI failed: its fix waits for the slot
    assert d.pending(fx.RunAgent, "a") == []
    decision = d.answer(b_turn.id)
    turns = [e for e in decision.effects if isinstance(e, fx.RunAgent)]
    assert [(t.task, t.turn.kind) for t in turns] == [("a", "ci")]
    assert not any(isinstance(e, fx.PrepareWorkspace) for e in decision.effects)
