"""Swarm workers in the core (issue 10): claims by numbered worker slots, cycles, rest
between cycles, follow-up proposals, draining on a first Ctrl-C, and claims that survive
crashes — checked on every decision of simulated runs."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import Phase, ReviewConfig, RunConfig, RunState, WorkerGroup
from plait.core.plan import TaskSpec
from plait.core.swarm import claims, swarm_done
from plait.core.task import attention_reason
from plait.testing.core_driver import Chaos, CoreDriver, Outcome, Timing

GROUP = WorkerGroup(name="w", agent="codex", model="gpt", effort="high", prompts=("/p.md",))


def _queue(n: int, **fields: object) -> list[TaskSpec]:
    return [
        TaskSpec(id=f"t{i}", title=f"task {i}", landing="merge", queue="tasks", **fields)  # type: ignore[arg-type]
        for i in range(n)
    ]


def _swarm(specs: list[TaskSpec], *groups: WorkerGroup, **config: object) -> CoreDriver:
    cfg = RunConfig(project="p", repo="/r", agent="claude", workers=groups, **config)  # type: ignore[arg-type]
    d = CoreDriver(specs, config=cfg)
    d.observers.append(lambda e, old, decision: check_claims(decision.state))
    return d


def check_claims(state: RunState) -> None:
    """No two workers hold one task, and a task names the worker that holds it."""
    held = claims(state)
    assert len(set(held.values())) == len(held), held
    for worker, task in held.items():
        assert state.tasks[task].worker == worker
    for t in state.tasks.values():
        if t.worker:
            assert held.get(t.worker) == t.id, (t.id, t.worker, held)


def test_three_workers_take_ten_tasks_one_claim_each_at_a_time() -> None:
    d = _swarm(_queue(10), replace(GROUP, count=3))
    most = 0

    def count(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        nonlocal most
        most = max(most, len(claims(decision.state)))

    d.observers.append(count)
    state = d.run(until=swarm_done)
    assert most == 3
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())
    assert set(d.world.main_merges.values()) == {1}
    cycles = Counter(e.worker for t in state.tasks.values() for e in t.log if e.kind == "cycle")
    assert set(cycles) == {"w/1", "w/2", "w/3"}
    assert sum(cycles.values()) == 10
    assert {w: s.cycles for w, s in state.swarm.workers.items()} == dict(cycles)
    assert not claims(state)


def test_a_claimed_task_runs_on_its_worker_groups_backend_model_effort_and_prompts() -> None:
    d = _swarm(_queue(1), GROUP)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent)))
    [turn] = d.pending(fx.RunAgent)
    assert (turn.agent, turn.model, turn.effort, turn.prompts) == (
        "codex",
        "gpt",
        "high",
        ("/p.md",),
    )
    assert d.st.tasks["t0"].worker == "w/1"


def test_tasks_outside_the_queue_start_as_usual_beside_the_swarm() -> None:
    plain = TaskSpec(id="plan-task", title="from a plan")
    d = _swarm([*_queue(2), plain], replace(GROUP, count=1))
    state = d.run(until=swarm_done)
    assert state.tasks["plan-task"].phase is Phase.MERGED
    assert not state.tasks["plan-task"].log
    assert d.decided(fx.OpenPR, "plan-task")  # its own landing: a PR
    [turn] = d.decided(fx.RunAgent, "plan-task")
    assert turn.agent == "claude"


def test_a_worker_stops_claiming_after_max_cycles() -> None:
    d = _swarm(_queue(5), replace(GROUP, count=1, max_cycles=2))
    state = d.run(until=swarm_done)
    merged = [t for t in state.tasks.values() if t.phase is Phase.MERGED]
    assert len(merged) == 2
    assert state.swarm.workers["w/1"].cycles == 2


def test_a_worker_rests_between_cycles() -> None:
    d = _swarm(_queue(2), replace(GROUP, count=1, wait=500.0))
    state = d.run(until=swarm_done)
    first, second = (state.tasks[f"t{i}"] for i in range(2))
    [end] = [e for e in first.log if e.kind == "cycle"]
    assert second.claimed_at >= end.at + 500.0


def test_a_may_plan_worker_adds_the_tasks_it_proposes_once() -> None:
    d = _swarm(_queue(1), replace(GROUP, may_plan=True))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent)))
    [turn] = d.pending(fx.RunAgent)
    assert turn.proposals
    proposed = (
        TaskSpec(id="follow-1", title="more", acceptance=("x",)),
        TaskSpec(id="follow-2", title="even more", depends_on=("follow-1", "nowhere")),
        TaskSpec(id="t0", title="a clash"),
    )
    done = ev.AgentFinished(
        at=d.now,
        effect_id=turn.id,
        task="t0",
        ok=True,
        session_id="s",
        reply="ok",
        commits_ahead=1,
        head_sha="a" * 40,
        proposed=proposed,
    )
    d.execute(turn.id)
    d.unreported.pop(turn.id)
    d.feed(done)
    specs = d.st.specs
    assert specs["follow-1"].queue == "tasks"
    assert specs["follow-1"].landing == "merge"
    assert specs["follow-1"].origin == "agent:t0"
    assert specs["follow-2"].depends_on == ("follow-1",)
    assert specs["t0"].title == "task 0"


def test_proposals_of_a_worker_that_may_not_plan_are_ignored() -> None:
    d = _swarm(_queue(1), GROUP)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent)))
    [turn] = d.pending(fx.RunAgent)
    assert not turn.proposals
    d.execute(turn.id)
    d.unreported.pop(turn.id)
    d.feed(
        ev.AgentFinished(
            at=d.now,
            effect_id=turn.id,
            task="t0",
            ok=True,
            commits_ahead=0,
            proposed=(TaskSpec(id="x", title="x"),),
        )
    )
    assert "x" not in d.st.specs


def test_a_claim_that_keeps_failing_goes_back_then_waits_for_a_human_freeing_its_worker() -> None:
    d = _swarm(_queue(2), replace(GROUP, count=1), retry_seconds=1.0)
    fail: list[Outcome] = ["fail"] * 30
    d.script("t0", "agent:start", *fail)
    d.script("t0", "agent:nudge", *fail)
    d.script("t0", "agent:wrapup", *fail)
    state = d.run(until=swarm_done)
    t0 = state.tasks["t0"]
    assert attention_reason(t0, d.config)
    assert not t0.worker  # the worker went on with other work
    assert state.tasks["t1"].phase is Phase.MERGED
    outcomes = [e.outcome for e in t0.log if e.kind == "cycle"]
    assert outcomes.count("stuck") >= 1


# ---- several related tasks in one cycle ------------------------------------------------
def _related() -> list[TaskSpec]:
    def spec(i: str, files: tuple[str, ...], deps: tuple[str, ...] = ()) -> TaskSpec:
        return TaskSpec(id=i, title=f"do {i}", landing="merge", queue="tasks", files=files,
                        depends_on=deps, acceptance=(f"{i} works",))  # fmt: skip

    return [
        spec("a", ("src/x.py",)),
        spec("b", ("src/x.py", "src/y.py")),
        spec("c", ("src/z.py",)),
        spec("d", ("src/x.py",), deps=("a",)),
    ]


def test_a_worker_takes_related_tasks_along_and_they_land_with_its_change() -> None:
    d = _swarm(_related(), replace(GROUP, count=1, claim=3))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent)))
    a = d.st.tasks["a"]
    assert a.riders == ("b",)  # shares src/x.py; c shares nothing; d depends on a
    assert d.st.tasks["b"].carried_by == "a"
    [turn] = d.pending(fx.RunAgent)
    assert "### b: do b" in turn.turn.description
    assert "b works" in turn.turn.description
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer)))
    [review] = d.pending(fx.RunReviewer)
    assert review.acceptance == ("a works", "b: b works")
    state = d.run(until=swarm_done)
    assert state.tasks["b"].phase is Phase.MERGED
    assert state.tasks["b"].merge_sha == state.tasks["a"].merge_sha
    assert not d.decided(fx.PrepareWorkspace, "b")  # never started on its own
    [cycle] = [e for e in state.tasks["a"].log if e.kind == "cycle"]
    assert cycle.claimed == ("a", "b")
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())
    assert set(d.world.main_merges) == {"a", "c", "d"}


def test_riders_go_back_to_waiting_with_their_carrier() -> None:
    d = _swarm(_related(), replace(GROUP, count=1, claim=2), review=ReviewConfig(rounds=0))
    d.script("a", "RunReviewer", "reject")
    d.run(until=lambda s: s.tasks["a"].counters.returns == 1)
    assert d.st.tasks["b"].carried_by == ""
    [cycle] = [e for e in d.st.tasks["a"].log if e.kind == "cycle"]
    assert (cycle.outcome, cycle.returned) == ("rejected", ("a", "b"))
    state = d.run(until=swarm_done)
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())


# ---- a first Ctrl-C, and the next start ---------------------------------------------------------
def test_draining_lets_running_turns_finish_their_cycle_and_claims_no_more() -> None:
    d = _swarm(_queue(6), replace(GROUP, count=3))
    d.run(until=lambda s: len(d.pending(fx.RunAgent)) == 3)
    d.feed(ev.SwarmStopping(at=d.now))
    state = d.run(until=swarm_done)
    merged = sorted(t.id for t in state.tasks.values() if t.phase is Phase.MERGED)
    assert merged == ["t0", "t1", "t2"]  # the three turns under way went through review
    assert all(state.tasks[f"t{i}"].phase is Phase.WAITING for i in range(3, 6))
    assert not claims(state)


def test_draining_gives_back_a_claim_whose_next_step_is_another_worker_turn() -> None:
    d = _swarm(_queue(1), GROUP)
    d.script("t0", "RunReviewer", "reject")
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer)))
    d.feed(ev.SwarmStopping(at=d.now))
    state = d.run(until=swarm_done)
    t = state.tasks["t0"]
    assert t.phase is Phase.WAITING
    assert [e.outcome for e in t.log if e.kind == "cycle"] == ["interrupted"]
    assert [e.turn.kind for e in d.decided(fx.RunAgent)] == ["start"]  # no fix turn began


def test_a_start_after_a_hard_stop_returns_the_claims_not_yet_approved() -> None:
    d = _swarm(_queue(2), replace(GROUP, count=2))
    d.run(until=lambda s: len(d.pending(fx.RunAgent)) == 2)
    d.feed(ev.SwarmStopping(at=d.now))
    d.crash()  # a second Ctrl-C: the turns were cut off
    d.feed(ev.SwarmStarted(at=d.now))
    assert not claims(d.st)
    assert not d.st.swarm.draining
    state = d.run(until=swarm_done)
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())
    assert set(d.world.main_merges.values()) == {1}


def test_a_start_returns_the_claims_of_workers_no_longer_configured() -> None:
    d = _swarm(_queue(2), replace(GROUP, count=2))
    d.run(until=lambda s: len(d.pending(fx.RunAgent)) == 2)
    smaller = replace(d.config, workers=(replace(GROUP, count=1),))
    d.feed(ev.ConfigChanged(at=d.now, config=smaller))
    d.feed(ev.SwarmStarted(at=d.now))
    assert claims(d.st) == {"w/1": "t0"}
    assert d.st.tasks["t1"].counters.returns == 1


# ---- crashes at any point ----------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_kill_at_random_points_loses_no_task_and_merges_none_twice(seed: int) -> None:
    chaos = Chaos(agent_fail=0.1, step_fail=0.1, conflict=0.2)
    rng = random.Random(seed)
    # Pairs of tasks share a file: a worker of group w takes both in one cycle.
    specs = [replace(s, files=(f"f{i // 2}.py",)) for i, s in enumerate(_queue(10))]
    cfg = RunConfig(
        project="p",
        repo="/r",
        workers=(
            replace(GROUP, count=3, claim=2),
            WorkerGroup(name="v", agent="claude", count=1),
        ),
        failure_cap=50,
    )
    d = CoreDriver(specs, config=cfg, seed=seed, chaos=chaos, timing=Timing(jitter=0.5))
    d.observers.append(lambda e, old, decision: check_claims(decision.state))
    for name in ("t1", "t5"):
        d.script(name, "RunReviewer", "reject")
    d.start()
    for _ in range(10):
        d.run(until=lambda s: rng.random() < 0.02 or swarm_done(s))
        d.crash()
        d.feed(ev.SwarmStarted(at=d.now))
    state = d.run(until=swarm_done)
    assert all(t.phase is Phase.MERGED for t in state.tasks.values()), d.describe()
    carried = {e for t in state.tasks.values() for c in t.log for e in c.claimed[1:]
               if c.kind == "cycle" and c.outcome == "merged"}  # fmt: skip
    assert set(d.world.main_merges) | carried == set(state.tasks)
    assert not set(d.world.main_merges) & carried  # a rider lands in its carrier's change
    assert set(d.world.main_merges.values()) == {1}
    assert not claims(state)
    assert not any(t.carried_by and t.phase is Phase.WAITING for t in state.tasks.values())


def test_a_worker_that_moved_main_stops_its_ticket_for_a_person_at_once() -> None:
    """On a swarm worker's claim a turn that moved main (`forbidden`, main already put
    back) is not resumed and not handed to the next worker: the claim ends as an error
    naming the reason and the ticket waits, with its work, for a person (as a forbidden
    task or mission does). `retry` lets it go on."""
    d = _swarm(_queue(2), replace(GROUP, count=2))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "t0")))
    [turn] = d.pending(fx.RunAgent, "t0")
    said = "the agent put 1 commit(s) of its own on main (abc); plait put main back at def"
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="t0", ok=False,
                            failure="forbidden", error=said))  # fmt: skip
    t0 = d.st.tasks["t0"]
    [cycle] = [e for e in t0.log if e.kind == "cycle"]
    assert (cycle.outcome, cycle.returned) == ("error", ())
    assert said in cycle.reason
    assert t0.resumes == 0
    assert said in attention_reason(t0, d.st.config)  # needs-attention, with the reason
    assert t0.phase is Phase.ACTIVE
    assert t0.counters.returns == 0  # not given back: no failure cap to run down
    assert "t0" not in claims(d.st).values()
    state = d.run(until=lambda s: s.tasks["t1"].phase is Phase.MERGED)
    assert len(d.decided(fx.RunAgent, "t0")) == 1  # no worker took the ticket up again
    assert attention_reason(state.tasks["t0"], state.config)
    d.feed(ev.TaskRetried(at=d.now, task="t0"))
    state = d.run(until=lambda s: s.tasks["t0"].phase is Phase.MERGED)
    assert not attention_reason(state.tasks["t0"], state.config)


def test_a_reviewer_that_moved_main_stops_the_ticket_for_a_person() -> None:
    d = _swarm(_queue(1), GROUP)
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer, "t0")))
    [review] = d.pending(fx.RunReviewer, "t0")
    d.feed(ev.Reviewed(at=d.now, effect_id=review.id, task="t0", ok=False, agent="claude",
                       failure="forbidden", error="it committed on main"))  # fmt: skip
    t0 = d.st.tasks["t0"]
    [cycle] = [e for e in t0.log if e.kind == "cycle"]
    assert (cycle.outcome, cycle.returned) == ("error", ())
    assert "it committed on main" in attention_reason(t0, d.st.config)
    assert not claims(d.st)


def test_a_forbidden_turn_stops_a_claimed_ticket_of_any_landing() -> None:
    specs = [TaskSpec(id="t0", title="ask", landing="none", queue="tasks")]
    d = _swarm(specs, GROUP)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "t0")))
    [turn] = d.pending(fx.RunAgent, "t0")
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="t0", ok=False,
                            failure="forbidden", error="it pushed main"))  # fmt: skip
    t0 = d.st.tasks["t0"]
    assert [(e.outcome, e.returned) for e in t0.log if e.kind == "cycle"] == [("error", ())]
    assert "it pushed main" in attention_reason(t0, d.st.config)


def test_a_retried_forbidden_ticket_goes_on_with_a_worker_of_its_group() -> None:
    """After `plait retry` a ticket stopped for a forbidden turn went on without a worker,
    on the project's agent (claude) instead of its group's (codex, gpt, high, prompts)."""
    d = _swarm(_queue(1), GROUP)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "t0")))
    [turn] = d.pending(fx.RunAgent, "t0")
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="t0", ok=False,
                            failure="forbidden", error="it pushed main"))  # fmt: skip
    assert "t0" not in claims(d.st).values()
    d.feed(ev.TaskRetried(at=d.now, task="t0"))
    d.run(until=lambda s: len(d.decided(fx.RunAgent, "t0")) == 2)
    again = d.decided(fx.RunAgent, "t0")[-1]
    assert (again.agent, again.model, again.effort, again.prompts) == (
        "codex", "gpt", "high", ("/p.md",))  # fmt: skip
    assert d.st.tasks["t0"].worker == "w/1"
    state = d.run(until=lambda s: s.tasks["t0"].phase is Phase.MERGED)
    cycles = [e for e in state.tasks["t0"].log if e.kind == "cycle"]
    assert [(e.worker, e.outcome) for e in cycles] == [("w/1", "error"), ("w/1", "merged")]
    assert not claims(state)


def test_a_retried_ticket_that_hit_the_failure_cap_waits_for_a_worker_of_its_group() -> None:
    """Given back failure_cap times it waits for a person; retried, its next turn waits
    for a free worker of its group (here busy with another ticket) and runs on its agent."""
    d = _swarm(_queue(2), replace(GROUP, count=1), retry_seconds=1.0)
    fail: list[Outcome] = ["fail"] * 30
    d.script("t0", "agent:start", *fail)
    d.script("t0", "agent:nudge", *fail)
    d.script("t0", "agent:wrapup", *fail)
    state = d.run(until=swarm_done)
    assert attention_reason(state.tasks["t0"], d.config)
    assert not state.tasks["t0"].worker
    turns = len(d.decided(fx.RunAgent, "t0"))
    d.script("t0", "agent:start", "ok")
    d.script("t0", "agent:continue", "ok")
    d.feed(ev.TaskRetried(at=d.now, task="t0"))
    state = d.run(until=lambda s: s.tasks["t0"].phase is Phase.MERGED)
    later = d.decided(fx.RunAgent, "t0")[turns:]
    assert later
    assert {(t.agent, t.model) for t in later} == {("codex", "gpt")}
    assert not claims(state)
