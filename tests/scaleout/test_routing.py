"""Routing turns to workers: every effect has a place, a turn goes where its agent is."""

from __future__ import annotations

from dataclasses import replace

from plait.core.effects import EFFECT_TYPES, RunAgent
from plait.engine.executor import WorkerInfo
from plait.scaleout import ROUTES, activity_queue, candidate_queues
from plait.scaleout.executor import CONTROLLER, WORKERS
from plait.scaleout.routing import agents_of, identity, parse_identity


def test_every_effect_type_has_a_route() -> None:
    # A new effect (a reviewer turn, say) must be placed on purpose: turns that run an
    # agent belong on workers, the rest with the controller's worktree and forge.
    assert set(ROUTES) == set(EFFECT_TYPES)
    assert {e for e, where in ROUTES.items() if where == WORKERS} == {RunAgent}
    assert set(ROUTES.values()) <= {WORKERS, CONTROLLER}


def _worker(
    name: str, agents: tuple[str, ...], slots: int, busy: int, state: str = "running"
) -> WorkerInfo:
    return WorkerInfo(name=name, host="h", slots=slots, busy=busy, agents=agents,
                      last_heartbeat=0.0, state=state)  # fmt: skip


def test_a_turn_goes_to_the_queues_that_have_its_agent_most_free_first() -> None:
    workers = [
        _worker("a", ("claude", "codex"), 4, 4),
        _worker("b", ("claude",), 2, 0),
        _worker("c", ("claude",), 2, 1),
        _worker("d", ("codex",), 8, 0),
        _worker("e", ("claude",), 8, 0, state="lost"),
    ]
    assert candidate_queues(workers, "plait", "claude") == ["plait@claude", "plait@claude,codex"]
    assert candidate_queues(workers, "plait", "codex") == ["plait@codex", "plait@claude,codex"]
    # Turns this controller sent count until the workers' own count catches up.
    assert candidate_queues(workers, "plait", "claude", mine={"plait@claude": 4})[0] == (
        "plait@claude"
    )
    assert candidate_queues(workers, "plait", "codex", mine={"plait@codex": 8})[0] == (
        "plait@claude,codex"
    )


def test_with_no_worker_for_the_agent_the_turn_waits_on_its_own_queue() -> None:
    assert candidate_queues([_worker("a", ("claude",), 2, 0)], "q", "pi") == ["q@pi"]
    assert candidate_queues([], "q", "claude") == ["q@claude"]


def test_names_round_trip() -> None:
    assert activity_queue("plait", ["codex", "claude", "codex"]) == "plait@claude,codex"
    assert agents_of("plait", "plait@claude,codex") == ("claude", "codex")
    assert agents_of("plait", "plait") is None
    assert agents_of("plait", "other@claude") is None
    assert parse_identity(identity("gpu-box-1", 6)) == ("gpu-box-1", 6)
    assert parse_identity("12345@host") == ("12345@host", 0)


def test_a_missions_turn_stays_with_the_controller() -> None:
    # A turn on a task's branch goes out; a mission's needs this machine (its directory,
    # its program, the API its agent spawns missions through).
    from plait.core import effects as fx
    from plait.scaleout.executor import runs_on_workers

    turn = fx.Turn(kind="start", title="t", description="", branch="b", base_branch="main")
    plain = fx.RunAgent(id="t/2/agent", task="t", agent="claude", worktree="/w", base_sha="",
                        session_id="", turn=turn)  # fmt: skip
    assert runs_on_workers(plain)
    with_ports = replace(plain, launch=fx.Launch(ports=("web",), allowed_tools=("Bash",)))
    assert runs_on_workers(with_ports)
    for launch in (
        fx.Launch(in_place=True),
        fx.Launch(command=("./run.sh",)),
        fx.Launch(parent="lead"),
        fx.Launch(name="scout"),
    ):
        assert not runs_on_workers(replace(plain, launch=launch)), launch
    assert not runs_on_workers(replace(plain, turn=replace(turn, template="mission")))
    assert not runs_on_workers(fx.Push(id="t/3/push", task="t", branch="b", worktree="/w"))


def test_a_turn_no_worker_has_taken_says_what_it_waits_for() -> None:
    """Found trying docs/scale-out.md with the worker stopped: `plait ps` said `working`
    with no waits line (waits_for null) while the turn sat in Temporal's queue."""
    from plait.api.views import task_row
    from plait.core import effects as fx
    from plait.core.model import RunConfig
    from plait.core.plan import TaskSpec
    from plait.testing.core_driver import CoreDriver

    config = RunConfig(project="p", repo="/r", agent="script")
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=config)
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    queued = task_row(d.st, d.st.tasks["a"], runs_on="waiting")
    assert queued["status"] == "working"
    why = queued["waits_for"]
    assert isinstance(why, str)
    assert why.startswith("a plait worker with the script agent to take its turn")
    assert "--agents script" in why
    assert task_row(d.st, d.st.tasks["a"], runs_on="vm")["waits_for"] is None
