"""The controller at scale: indexed scheduling decides exactly what a full scan decided.

`schedule()` visits only the live and startable tasks a `TaskMap` indexes, and `decide`
no longer copies every task per change (P1 in bench/README.md). These tests pin down that nothing
else changed:

- golden event logs (seeded `CoreDriver` runs with crashes, human messages, merges on the
  forge, rate limits, conflicts; and the demo's log), recorded before the change with the
  digest of every decision's effects and state, replay to the same digests;
- the whole-plan scan the scheduler used to do, kept here as a reference, emits the same
  effects and states as the indexed scheduler on every state of lived-in runs;
- the indexes maintained event by event equal the ones rebuilt from scratch.

If a change of behaviour is intended, re-record the digests: `python tests/core/test_scale.py`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide
from plait.core.graph import readiness
from plait.core.model import (
    AGENT_OPS,
    FEEDBACK_PRIORITY,
    Op,
    OpKind,
    Phase,
    RunConfig,
    RunState,
    TaskState,
)
from plait.core.plan import TaskSpec
from plait.core.progress import next_wakeup, settled
from plait.core.scheduler import (
    FIRST_STEP,
    _emit,
    _housekeeping,
    _Slots,
    _with,
    schedule,
    uses_slot,
)
from plait.core.task import attention_reason, merge_gate, next_op, take
from plait.core.taskmap import Shape, TaskMap, indexed_tasks, is_live
from plait.testing.core_driver import Chaos, CoreDriver, Stalled, Timing, chain

GOLDEN = Path(__file__).with_name("golden_decisions.json.gz")


# ---- golden event logs ---------------------------------------------------------------------
# Fields added after the logs were recorded, with the value they have when unused. Left out
# of the digest at that value, so a new field alone does not change the recorded digests,
# while any change of what was decided still does.
_LATER_FIELDS: dict[str, object] = {
    "stopped": "",
    "interrupted": False,
    "contexts": {},
    "model": "",
    "plan": "",
    "origin": "",
    "login_failures": 0,
    "note": "",
    "class_agents": {},
    "class_models": {},
}


def _without_later_fields(value: codec.JSON) -> codec.JSON:
    if isinstance(value, list):
        return [_without_later_fields(v) for v in value]
    if isinstance(value, dict):
        return {
            k: _without_later_fields(v)
            for k, v in value.items()
            if not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])
            and not (k == "model" and v is None)
        }
    return value


def _digest(log: list[ev.Event]) -> str:
    h = hashlib.sha256()
    state: RunState | None = None
    for event in log:
        decision = decide(state, event)
        state = decision.state
        effects = _without_later_fields([codec.encode(e) for e in decision.effects])
        h.update(json.dumps(effects, sort_keys=True).encode())
        h.update(json.dumps(_without_later_fields(codec.encode(state)), sort_keys=True).encode())
    return h.hexdigest()


def _golden() -> dict[str, dict[str, object]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        data: dict[str, dict[str, object]] = json.load(f)
    return data


def _log(run: dict[str, object]) -> list[ev.Event]:
    events = run["events"]
    assert isinstance(events, list)
    return [codec.decode_event(e) for e in events]


@pytest.mark.parametrize("name", sorted(_golden()))
def test_same_decisions_as_before(name: str) -> None:
    run = _golden()[name]
    assert _digest(_log(run)) == run["digest"]


# ---- the whole-plan scan the scheduler used to do ------------------------------------------
def _reference_schedule(state: RunState) -> tuple[RunState, tuple[fx.Effect, ...]]:
    tasks = dict(state.tasks)
    slots = _Slots(state)
    for tid in state.order:
        if uses_slot(tasks[tid]) and tasks[tid].in_flight:
            slots.add(tid)
    out: list[fx.Effect] = []

    def movable(t: TaskState) -> bool:
        return (
            not t.in_flight
            and t.retry_at <= state.now
            and not attention_reason(t, state.config)
            and t.phase is not Phase.WAITING
        )

    for tid in state.order:
        t = tasks[tid]
        if t.current is None or not movable(t) or (t.phase is Phase.MERGED and not t.current):
            continue
        if uses_slot(t):
            if not slots.free_for(tid):
                continue
            slots.add(tid)
        tasks[tid], effect = _emit(state, t)
        out.append(effect)
    ranked: list[tuple[int, int, str, Op]] = []
    for i, tid in enumerate(state.order):
        t = tasks[tid]
        if t.current is None and t.phase is Phase.ACTIVE and movable(t):
            op = next_op(t)
            if op is not None:
                ranked.append((FEEDBACK_PRIORITY.index(op.kind), i, tid, op))
    for _, _, tid, op in sorted(ranked):
        if op.kind in AGENT_OPS:
            if not slots.free_for(tid):
                continue
            slots.add(tid)
        tasks[tid], effect = _emit(state, take(tasks[tid], op, FIRST_STEP[op.kind]))
        out.append(effect)
    for tid in state.order:
        t = tasks[tid]
        gate = merge_gate(t, state.config)
        if gate != bool(t.ready_since):
            t = tasks[tid] = replace(t, ready_since=state.now if gate else 0.0)
        if t.current is not None or t.queue:
            continue
        hk = _housekeeping(state, tasks, t)
        if hk is not None and (movable(t) or hk.kind is OpKind.CLEANUP):
            if t.in_flight or t.retry_at > state.now:
                continue
            tasks[tid], effect = _emit(state, take(_with(t, hk), hk, FIRST_STEP[hk.kind]))
            out.append(effect)
    for tid in state.start_order:
        t = tasks[tid]
        if t.phase is not Phase.WAITING or t.current is not None or t.retry_at > state.now:
            continue
        if attention_reason(t, state.config):
            continue
        ready = readiness(state.specs[tid], tasks, stacked=state.config.stacked)
        if not ready.ready or not slots.free_for(tid):
            continue
        slots.add(tid)
        cfg = state.config
        on = ready.stacked_on
        base = tasks[on].branch if on else cfg.main_branch
        branch = f"{cfg.branch_prefix}/{cfg.project}/{t.id}"
        t = replace(t, branch=branch, base_branch=base, stacked_on=on, phase=Phase.ACTIVE)
        start = Op(kind=OpKind.START)
        tasks[tid], effect = _emit(state, take(_with(t, start), start, "workspace"))
        out.append(effect)
    return replace(state, tasks=tasks), tuple(out)


def _specs(rng: random.Random, n: int) -> list[TaskSpec]:
    specs = []
    for i in range(n):
        window = list(range(max(0, i - 6), i))
        k = min(len(window), rng.choice((0, 1, 1, 2, 3)))
        deps = tuple(f"t{j}" for j in sorted(rng.sample(window, k)))
        specs.append(
            TaskSpec(
                id=f"t{i}",
                title=f"task {i}",
                depends_on=deps,
                task_class=rng.choice(("INFRA", "GATED", None)),
                agent=rng.choice((None, "codex")),
            )
        )
    return specs


def _after(events: int) -> Callable[[RunState], bool]:
    return lambda s: s.events >= events


def _lived_in_states(seed: int) -> Iterator[RunState]:
    """Every state of a chaotic run with crashes, human messages and forge merges."""
    rng = random.Random(seed)
    config = RunConfig(
        project="s",
        repo="/r",
        max_concurrency=rng.choice((1, 2, 4)),
        stacked=seed % 3 != 0,
        class_caps={"INFRA": 1} if seed % 2 else {},
        agent_caps={"codex": 1} if seed % 4 == 1 else {},
        merge_delay=15.0 if seed % 5 == 2 else 0.0,
    )
    chaos = Chaos(agent_fail=0.15, step_fail=0.1, conflict=0.5, ci_fail=0.25, review=0.3)
    d = CoreDriver(
        _specs(rng, 14), config=config, seed=seed, chaos=chaos, timing=Timing(jitter=0.5)
    )
    states: list[RunState] = []
    d.observers.append(lambda _e, _old, decision: states.append(decision.state))
    d.start()
    for round_ in range(6):
        try:
            d.run(until=_after(d.st.events + rng.randint(10, 40)), auto_human=True)
        except Stalled:
            break
        tid = rng.choice(d.st.order)
        if round_ % 3 == 0:
            d.crash()
        elif round_ % 3 == 1:
            d.human(tid, "a nudge")
        else:
            open_prs = [t for t, pr in d.prs.items() if pr.state == "open"]
            if open_prs:
                d.merge_on_forge(rng.choice(open_prs))
                d.poll()
    d.run(auto_human=True, max_events=3000)
    yield from states


@pytest.mark.parametrize("seed", range(6))
def test_indexed_schedule_matches_a_full_scan(seed: int) -> None:
    for state in _lived_in_states(seed):
        for dt in (0.0, 7.0, 400.0):
            later = replace(state, now=state.now + dt)
            got_state, got = schedule(later)
            want_state, want = _reference_schedule(later)
            assert got == want
            assert got_state == want_state


@pytest.mark.parametrize("seed", range(6))
def test_indexes_equal_a_rebuild_from_scratch(seed: int) -> None:
    for state in _lived_in_states(seed):
        tasks = state.tasks
        assert isinstance(tasks, TaskMap)
        fresh = TaskMap.build(dict(tasks), Shape.of(state))
        assert (tasks.live, tasks.startable) == (fresh.live, fresh.startable)
        assert tasks.live_ids() == [t for t in state.order if is_live(tasks[t])]
        ready = [
            t
            for t in state.start_order
            if tasks[t].phase is Phase.WAITING
            and readiness(state.specs[t], tasks, stacked=state.config.stacked).ready
        ]
        assert list(tasks.startable_ids()) == ready


@pytest.mark.parametrize("seed", range(3))
def test_progress_answers_the_same_with_and_without_the_index(seed: int) -> None:
    for state in _lived_in_states(seed):
        plain = replace(state, tasks=dict(state.tasks))
        for now in (state.now, state.now + 50.0):
            assert settled(replace(state, now=now)) == settled(replace(plain, now=now))
            assert next_wakeup(replace(state, now=now)) == next_wakeup(replace(plain, now=now))


# ---- the persistent map ----------------------------------------------------------------------
def _started(specs: list[TaskSpec], **config: object) -> RunState:
    cfg = RunConfig(project="s", repo="/r", **config)  # type: ignore[arg-type]
    return decide(None, ev.RunStarted(at=0.0, config=cfg, tasks=tuple(specs))).state


def test_a_task_map_is_a_mapping_in_plan_order_equal_to_its_dict() -> None:
    state = _started(chain(300))
    tasks = indexed_tasks(state)
    maps = [tasks]
    for i in range(0, 300, 3):  # enough updates to fold the overlay into a new base
        tid = f"t{i}"
        maps.append(maps[-1].updated({tid: replace(maps[-1][tid], turns=i + 1)}))
    last = maps[-1]
    plain = dict(last.items())
    assert list(last) == list(state.order) == list(plain)
    assert last == plain
    assert plain == last
    assert last != dict(tasks.items())
    assert [t.turns for t in last.values()] == [i + 1 if i % 3 == 0 else 0 for i in range(300)]
    assert "t5" in last
    assert "nope" not in last
    assert len(last) == 300
    for older in maps[-6:]:
        want = [tid for tid in state.order if older.get(tid) is not last[tid]]
        assert sorted(last.changed_ids(older)) == sorted(want)
    assert last.updated({"t0": last["t0"]}) is last


def test_state_survives_the_codec_and_decides_on() -> None:
    d = CoreDriver(chain(6), seed=3, chaos=Chaos(ci_fail=0.3, review=0.3))
    d.run(until=lambda s: s.events > 40)
    decoded = codec.decode_state(json.loads(json.dumps(codec.encode(d.st))))
    assert decoded == d.st
    assert not isinstance(decoded.tasks, TaskMap)
    tick = ev.Tick(at=d.now + 1)
    assert decide(decoded, tick) == decide(d.st, tick)


def test_a_big_plan_keeps_the_visited_sets_small() -> None:
    """10,000 tasks in chains of ten: only started tasks are live, only chain heads are
    startable, and an event shares the untouched tasks with the state before it."""
    specs = [
        TaskSpec(id=f"t{i}", title="x", depends_on=(f"t{i - 1}",) if i % 10 else ())
        for i in range(10_000)
    ]
    d = CoreDriver(specs, config=RunConfig(project="s", repo="/r", max_concurrency=8))
    decisions: list[tuple[RunState | None, Decision]] = []
    d.observers.append(lambda _e, old, decision: decisions.append((old, decision)))
    d.start()
    for _ in range(60):
        d.answer(next(iter(d.outstanding)), "ok")
    for old, decision in decisions[1:]:
        tasks = decision.state.tasks
        assert isinstance(tasks, TaskMap)
        started = sum(t.phase is not Phase.WAITING for t in tasks.values())
        assert len(tasks.live) == started <= 60
        assert old is not None
        assert len(tasks.changed_ids(old.tasks)) <= 3
    assert len(indexed_tasks(d.st).startable) == 1000 - len(d.decided(fx.PrepareWorkspace))


# ---- re-recording --------------------------------------------------------------------------
def _rehash() -> None:
    data = _golden()
    for run in data.values():
        run["digest"] = _digest(_log(run))
    with gzip.open(GOLDEN, "wt", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    _rehash()
    sys.exit(0)
