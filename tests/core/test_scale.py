"""The controller at scale: indexed scheduling decides exactly what a full scan decided.

`schedule()` visits only the live and startable tasks a `TaskMap` indexes, and `decide`
no longer copies every task per change (P1 in bench/README.md). These tests pin down that nothing
else changed:

- golden event logs (seeded `CoreDriver` runs with crashes, human messages, merges on the
  forge, rate limits, conflicts; and the demo's log), recorded before the change with the
  digest of every decision's effects and state, replay to the same digests;
- a plain whole-plan scan written here from the scheduler's rules (none of its helpers)
  emits the same effects and states as the indexed scheduler on every state of lived-in
  runs;
- the indexes maintained event by event equal the ones rebuilt from scratch.

If a change of behaviour is intended, re-record the digests: `python tests/core/test_scale.py`,
and change the reference scan the same way.
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
from plait.core.scheduler import build_effect, schedule
from plait.core.task import attention_reason, merge_gate, next_op, take, wants_ready
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
    # Missions (issue 11): spec, state, effect and turn fields.
    "name": "",
    "parent": "",
    "restart": None,
    "cwd": "",
    "activity_timeout": 0.0,
    "allowed_tools": [],
    "ports": [],
    "command": [],
    "template": "",
    "team": False,
    "exit_code": None,
    "restarts": [],
    "failed": "",
    "launch": None,
    "in_place": False,
    "budget": {"tokens": None, "dollars": None},
    "task_budget": {"tokens": None, "dollars": None},
    "notify_on": [],
    "hold_overlapping": False,
    "overlaps": [],
    "files": [],
    # merge landing, reviews and the swarm (issue 10)
    "acceptance": [],
    "queue": "",
    "review_failures": 0,
    "returns": 0,
    "verdict": "",
    "verdict_head": "",
    "review_rounds": 0,
    "reviewer_tries": 0,
    "notes": "",
    "skipped": "",
    "worker": "",
    "claimed_at": 0.0,
    "claim_usage": {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.0,
    },
    "resumes": 0,
    "log": [],
    "sync": "rebase",
    "review": {
        "reviewers": [],
        "rounds": 3,
        "exhausted": "queue",
        "prompts": [],
        "prs": False,
    },
    "workers": [],
    "tickets_dir": "tasks",
    "swarm": {"workers": {}, "draining": False},
    "effort": "",
    "prompts": [],
    "proposals": False,
    "tickets": "",
    "by_merge": False,
    "riders": [],
    "carried_by": "",
    "claim": 1,
    # the risk gate and classes by path (issue 12)
    "risk": "",
    "risk_reason": "",
    "risk_head": "",
    "path_classes": [],
    "second_verdict": "",
    "second_head": "",
    "risk_failures": 0,
    "risk_rules": None,
    "class_paths": {},
    "prepare_ahead": 0,
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


# ---- a plain whole-plan scan, written from the scheduler's rules ---------------------------
# The reference restates the scheduler's rules (its docstring's order of service, the caps,
# which step an operation starts with, housekeeping, effect ids) without any of its own
# helpers, so a bug in one of them shows up as a difference instead of on both sides. It
# uses only what the task state machine and the plan graph define (`take`, `next_op`,
# `attention_reason`, `merge_gate`, `wants_ready`, `readiness`) and the effect builder.
_FIRST = {
    OpKind.START: "workspace",
    OpKind.HUMAN: "agent",
    OpKind.CONFLICT: "agent",
    OpKind.CI: "agent",
    OpKind.REVIEW: "agent",
    OpKind.REBASE: "rebase",
    OpKind.READY: "ready",
    OpKind.MERGE: "merge",
    OpKind.CLEANUP: "cleanup",
    OpKind.DISCARD: "discard",
}


class _Turns:
    """The agent turns holding a slot; a new one fits when no cap is reached (counted by
    scanning the holders) and its backend is not cooling down."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.holders: list[str] = []

    def agent(self, tid: str) -> str:
        return self.state.specs[tid].agent or self.state.config.agent

    def fits(self, tid: str) -> bool:
        cfg, specs = self.state.config, self.state.specs
        cls, agent = specs[tid].task_class, self.agent(tid)
        same_class = sum(1 for h in self.holders if specs[h].task_class == cls)
        same_agent = sum(1 for h in self.holders if self.agent(h) == agent)
        cooldown = self.state.cooldowns.get(agent)
        return not (
            len(self.holders) >= cfg.max_concurrency
            or (cls and cls in cfg.class_caps and same_class >= cfg.class_caps[cls])
            or (agent in cfg.agent_caps and same_agent >= cfg.agent_caps[agent])
            or (cooldown is not None and cooldown.until > self.state.now)
        )


def _holds_a_slot(t: TaskState) -> bool:
    """An agent operation at its workspace or agent step is an agent turn."""
    return (
        t.current is not None and t.current.kind in AGENT_OPS and t.step in ("workspace", "agent")
    )


def _emitted(state: RunState, t: TaskState) -> tuple[TaskState, fx.Effect]:
    """The effect for `t`'s current step; ids count per task: `<task>/<n>/<step>`."""
    n = t.effect_seq + 1
    effect_id = f"{t.id}/{n}/{t.step}"
    based = state.now if t.step in ("workspace", "rebase") else t.based_at
    effect = build_effect(state, t, effect_id)
    return replace(t, effect_seq=n, in_flight=effect_id, based_at=based), effect


def _started_on(t: TaskState, op: Op) -> TaskState:
    return take(replace(t, queue=(*t.queue, op)), op, _FIRST[op.kind])


def _chore(state: RunState, tasks: dict[str, TaskState], t: TaskState) -> Op | None:
    """Housekeeping: clean up a landed task once no open task builds on its branch; mark
    an open task ready for review; merge a PR-landing task when its gate has held for
    the merge delay."""
    if t.phase is Phase.MERGED:
        builds_on = any(
            o.phase is Phase.ACTIVE
            and (o.base_branch == t.branch or (o.pr is not None and o.pr.base == t.branch))
            for o in tasks.values()
        )
        done = t.cleaned or not t.worktree
        return None if done or builds_on else Op(kind=OpKind.CLEANUP)
    if t.phase is not Phase.ACTIVE:
        return None
    if wants_ready(t):
        return Op(kind=OpKind.READY)
    waited = t.ready_since + state.config.merge_delay <= state.now
    if state.specs[t.id].landing == "pr" and merge_gate(t, state.config) and waited:
        return Op(kind=OpKind.MERGE)
    return None


def _landing_now(state: RunState, t: TaskState) -> bool:
    """A PR-landing task past its last agent turn (within the hold), nothing in its way."""
    agent_left = _holds_a_slot(t) or any(op.kind in AGENT_OPS for op in t.queue)
    return (
        t.phase is Phase.ACTIVE
        and t.turn_ended_at + state.config.hold_for_dependents > state.now
        and state.specs[t.id].landing == "pr"
        and not (t.stopped or agent_left or attention_reason(t, state.config))
    )


def _kept_for_dependents(state: RunState, tasks: dict[str, TaskState]) -> list[str]:
    """The waiting tasks that only wait for tasks landing now (a slot is kept for each)."""
    cfg = state.config
    if cfg.hold_for_dependents <= 0 or cfg.workers:
        return []
    soon = {tid for tid, t in tasks.items() if _landing_now(state, t)}
    kept = []
    for tid, t in tasks.items():
        spec = state.specs[tid]
        if t.phase is not Phase.WAITING or t.stopped or t.carried_by or spec.team:
            continue
        if not soon & set(spec.depends_on) or attention_reason(t, cfg):
            continue
        if readiness(spec, tasks, stacked=cfg.stacked).ready:
            continue
        if all(tasks[d].phase is Phase.MERGED or d in soon for d in spec.depends_on):
            kept.append(tid)
    return kept


def _reference_schedule(state: RunState) -> tuple[RunState, tuple[fx.Effect, ...]]:
    tasks = {tid: state.tasks[tid] for tid in state.order}
    cfg, now = state.config, state.now
    turns = _Turns(state)
    turns.holders = [tid for tid, t in tasks.items() if _holds_a_slot(t) and t.in_flight]
    out: list[fx.Effect] = []

    def emit(t: TaskState) -> None:
        tasks[t.id], effect = _emitted(state, t)
        out.append(effect)

    def free(t: TaskState) -> bool:
        return not (t.in_flight or t.stopped or t.retry_at > now or attention_reason(t, cfg))

    # 1. Operations under way take their next step; an agent step needs a slot again.
    for t in list(tasks.values()):
        if t.current is None or t.phase is Phase.WAITING or not free(t):
            continue
        if _holds_a_slot(t):
            if not turns.fits(t.id):
                continue
            turns.holders.append(t.id)
        emit(t)
    # 2. Queued feedback on open tasks, by priority across tasks, then plan order.
    queued = [
        (FEEDBACK_PRIORITY.index(op.kind), i, t.id, op)
        for i, t in enumerate(tasks.values())
        if t.current is None and t.queue and t.phase is Phase.ACTIVE and free(t)
        for op in [next_op(t)]
        if op is not None
    ]
    for _, _, tid, op in sorted(queued):
        if op.kind in AGENT_OPS:
            if not turns.fits(tid):
                continue
            turns.holders.append(tid)
        t = take(tasks[tid], op, _FIRST[op.kind])
        emit(t if t.worktree else replace(t, step="workspace"))  # adopted: check out first
    # 3. Housekeeping, after the merge gate's start time is brought up to date.
    for tid in state.order:
        t = tasks[tid]
        gate = merge_gate(t, cfg)
        if gate != bool(t.ready_since):
            t = tasks[tid] = replace(t, ready_since=now if gate else 0.0)
        chore = None if t.current is not None or t.queue else _chore(state, tasks, t)
        if chore is None or t.in_flight or t.retry_at > now:
            continue
        landed_cleanup = chore.kind is OpKind.CLEANUP and not t.stopped
        if landed_cleanup or (free(t) and t.phase is not Phase.WAITING):
            emit(_started_on(t, chore))
    # 4. New starts, longest critical path first, where the dependencies allow, leaving a
    # slot free for each task that comes before them and waits only for tasks landing now.
    kept = _kept_for_dependents(state, tasks)
    for tid in state.start_order:
        t = tasks[tid]
        if t.phase is not Phase.WAITING or t.current is not None or not free(t):
            continue
        ready = readiness(state.specs[tid], tasks, stacked=cfg.stacked)
        if not ready.ready or not turns.fits(tid):
            continue
        before = sum(1 for k in kept if state.start_order.index(k) < state.start_order.index(tid))
        if len(turns.holders) + before >= cfg.max_concurrency:
            continue
        turns.holders.append(tid)
        on = ready.stacked_on
        t = replace(
            t,
            branch=f"{cfg.branch_prefix}/{cfg.project}/{tid}",
            base_branch=tasks[on].branch if on else cfg.main_branch,
            stacked_on=on,
            phase=Phase.ACTIVE,
        )
        emit(_started_on(t, Op(kind=OpKind.START)))
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
