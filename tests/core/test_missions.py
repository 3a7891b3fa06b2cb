"""Missions in the core: restart policies on the event clock, mission trees, teams.

Driven through `CoreDriver` (the pure controller with a simulated engine around it), so
every time here is the simulated clock's, never the wall clock's.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.missions import plan_restart, subtree
from plait.core.model import Phase, RunConfig
from plait.core.plan import Restart, TaskSpec
from plait.core.progress import settled, tasks_settled
from plait.core.task import attention_reason, display_status
from plait.testing.core_driver import CoreDriver

CONFIG = RunConfig(project="p", repo="/r", max_concurrency=8)


def mission(tid: str, **fields: object) -> TaskSpec:
    base = TaskSpec(id=tid, title=f"Mission {tid}", landing="none", restart=Restart())
    return replace(base, **fields)  # type: ignore[arg-type]


def turn_of(d: CoreDriver, task: str) -> fx.RunAgent:
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, task)))
    [effect] = d.pending(fx.RunAgent, task)
    return effect


def finish(d: CoreDriver, effect: fx.RunAgent, *, ok: bool, code: int, **more: object) -> None:
    d.feed(
        ev.AgentFinished(
            at=d.now,
            effect_id=effect.id,
            task=effect.task,
            ok=ok,
            exit_code=code,
            failure="" if ok else str(more.pop("failure", "crash")),
            error="" if ok else f"exit {code}",
            reply="the answer" if ok else "",
            session_id=str(more.pop("session_id", "")),
        )
    )


# ---- the restart budget, as a pure function ---------------------------------------------------
def test_backoff_doubles_inside_the_window_and_the_budget_caps_it() -> None:
    policy = Restart(policy="on-failure", max_restarts=3, window=100.0, backoff=2.0)
    history: tuple[float, ...] = ()
    dues = []
    now = 0.0
    for _ in range(3):
        planned = plan_restart(policy, history, now, ok=False)
        assert planned is not None
        due, history = planned
        dues.append(due - now)
        now = due
    assert dues == [2.0, 4.0, 8.0]
    assert plan_restart(policy, history, now, ok=False) is None
    # Once the oldest restart leaves the window, the budget has room again, and the
    # backoff counts only the restarts still inside it.
    later = history[0] + 100.0
    planned = plan_restart(policy, history, later, ok=False)
    assert planned is not None
    assert planned[0] - later == 2.0 * 2**2


@pytest.mark.parametrize(
    ("policy", "ok", "restarts"),
    [
        ("never", False, False),
        ("never", True, False),
        ("on-failure", False, True),
        ("on-failure", True, False),
        ("always", True, True),
        ("always", False, True),
    ],
)
def test_which_exits_each_policy_restarts(policy: str, ok: bool, restarts: bool) -> None:
    planned = plan_restart(Restart(policy=policy), (), 0.0, ok=ok)
    assert (planned is not None) is restarts


def test_a_login_failure_is_never_restarted() -> None:
    assert plan_restart(Restart(policy="always"), (), 0.0, ok=False, failure="auth") is None


# ---- missions through the controller ----------------------------------------------------------
def test_a_mission_that_succeeds_is_done_with_its_answer_and_exit_code() -> None:
    d = CoreDriver([mission("m1")], config=CONFIG)
    effect = turn_of(d, "m1")
    assert effect.launch is not None
    assert effect.launch.name == "m1"
    assert effect.turn.template == "mission"
    finish(d, effect, ok=True, code=0)
    t = d.st.tasks["m1"]
    assert t.phase is Phase.MERGED
    assert t.exit_code == 0
    assert t.last_reply == "the answer"
    assert display_status(t, d.config, landing="none") == "done"


def test_policy_never_fails_the_mission_at_once_with_its_exit_code() -> None:
    d = CoreDriver([mission("m1")], config=CONFIG)
    finish(d, turn_of(d, "m1"), ok=False, code=3)
    t = d.st.tasks["m1"]
    assert t.exit_code == 3
    assert display_status(t, d.config, landing="none") == "failed"
    assert "restart policy never" in attention_reason(t, d.config)
    d.tick(1000.0)
    assert not d.pending(fx.RunAgent, "m1")
    assert settled(d.st)
    # retry gives it another go from where it was.
    d.feed(ev.TaskRetried(at=d.now, task="m1"))
    assert d.pending(fx.RunAgent, "m1")
    assert not d.st.tasks["m1"].failed


def test_on_failure_restarts_with_backoff_until_the_budget_is_spent() -> None:
    policy = Restart(policy="on-failure", max_restarts=2, window=1000.0, backoff=10.0)
    d = CoreDriver([mission("m1", restart=policy)], config=CONFIG)
    first = turn_of(d, "m1")
    finish(d, first, ok=False, code=1, session_id="s-1")
    t = d.st.tasks["m1"]
    assert t.retry_at == d.now + 10.0
    assert not t.failed
    d.tick(9.0)
    assert not d.pending(fx.RunAgent, "m1")  # still backing off
    d.tick(1.0)
    [second] = d.pending(fx.RunAgent, "m1")
    assert second.turn.kind == "continue"  # a crash continues the session it saved
    assert second.session_id == "s-1"
    finish(d, second, ok=False, code=1)
    assert d.st.tasks["m1"].retry_at == d.now + 20.0
    d.tick(20.0)
    [third] = d.pending(fx.RunAgent, "m1")
    finish(d, third, ok=False, code=7)
    t = d.st.tasks["m1"]
    assert t.exit_code == 7
    assert "restart budget spent" in t.failed
    assert display_status(t, d.config, landing="none") == "failed"


def test_always_restarts_a_clean_exit_in_a_fresh_session_then_ends_done() -> None:
    policy = Restart(policy="always", max_restarts=1, window=1000.0, backoff=1.0)
    d = CoreDriver([mission("m1", restart=policy)], config=CONFIG)
    finish(d, turn_of(d, "m1"), ok=True, code=0, session_id="s-1")
    assert d.st.tasks["m1"].phase is Phase.ACTIVE
    d.tick(1.0)
    [again] = d.pending(fx.RunAgent, "m1")
    assert again.session_id == ""
    assert again.turn.kind == "start"
    finish(d, again, ok=True, code=0)
    assert display_status(d.st.tasks["m1"], d.config, landing="none") == "done"


def test_silence_past_the_activity_timeout_goes_to_the_policy_not_a_nudge() -> None:
    policy = Restart(policy="on-failure", max_restarts=1, window=100.0, backoff=1.0)
    d = CoreDriver([mission("m1", restart=policy, activity_timeout=5.0)], config=CONFIG)
    effect = turn_of(d, "m1")
    assert effect.launch is not None
    assert effect.launch.idle_timeout == 5.0
    finish(d, effect, ok=False, code=-15, failure="stalled", session_id="s-1")
    t = d.st.tasks["m1"]
    assert not t.nudged
    assert t.session_id == ""  # a stalled session is not resumed
    assert t.restarts


def test_a_mission_in_a_directory_of_its_own_has_no_branch_and_no_cleanup() -> None:
    d = CoreDriver([mission("m1", cwd="/home/me/notes")], config=CONFIG)
    d.start()
    [prepare] = d.decided(fx.PrepareWorkspace, "m1")
    assert prepare.cwd == "/home/me/notes"
    assert prepare.branch == ""
    effect = turn_of(d, "m1")
    assert effect.worktree == "/home/me/notes"
    assert effect.turn.in_place
    finish(d, effect, ok=True, code=0)
    d.run()
    t = d.st.tasks["m1"]
    assert t.phase is Phase.MERGED
    assert not d.decided(fx.Cleanup, "m1")
    # A hard reset starts it over without throwing the directory away.
    d2 = CoreDriver([mission("m2", cwd="/home/me/notes")], config=CONFIG)
    turn_of(d2, "m2")
    d2.feed(ev.TaskReset(at=d2.now, task="m2", hard=True))
    assert not d2.decided(fx.Discard, "m2")


def test_a_mission_that_touched_main_fails_and_is_not_restarted() -> None:
    """An in-place mission's agent moved main (the shell put it back and says `forbidden`):
    a restart would let it do so again, so a person looks, as for any task."""
    policy = Restart(policy="always", max_restarts=5, window=1000.0, backoff=1.0)
    d = CoreDriver([mission("m1", restart=policy, cwd="/home/me/repo")], config=CONFIG)
    finish(d, turn_of(d, "m1"), ok=False, code=0, failure="forbidden")
    t = d.st.tasks["m1"]
    assert not t.restarts
    assert display_status(t, d.config, landing="none") == "failed"
    assert "a restart cannot fix this" in t.failed
    d.tick(1000.0)
    assert not d.pending(fx.RunAgent, "m1")


# ---- trees and teams ------------------------------------------------------------------------
def test_kill_cascade_stops_the_subtree_children_first_and_spares_the_rest() -> None:
    specs = [
        mission("lead"),
        mission("a", parent="lead"),
        mission("a1", parent="a"),
        mission("b", parent="lead"),
        mission("other"),
    ]
    d = CoreDriver(specs, config=CONFIG)
    d.start()
    assert subtree(d.st, "lead") == ("a1", "a", "b", "lead")
    d.feed(ev.TaskKilled(at=d.now, task="lead", reason="enough", cascade=True))
    stopped = {tid for tid, t in d.st.tasks.items() if t.stopped}
    assert stopped == {"lead", "a", "a1", "b"}
    assert d.st.tasks["a1"].stopped == "stopped with lead"
    # A child a dying lead adds in its last second starts stopped too.
    d.add([mission("late", parent="lead")])
    assert d.st.tasks["late"].stopped
    d.feed(ev.TaskRetried(at=d.now, task="lead", cascade=True))
    assert not any(t.stopped for tid, t in d.st.tasks.items() if tid != "late")


def test_a_team_runs_nothing_and_is_done_when_its_children_are() -> None:
    specs = [
        mission("t.a", parent="t"),
        mission("t.b", parent="t"),
        mission("t.join", parent="t", depends_on=("t.a", "t.b")),
        TaskSpec(
            id="t",
            title="team",
            landing="none",
            restart=Restart(),
            team=True,
            depends_on=("t.a", "t.b", "t.join"),
        ),
    ]
    d = CoreDriver(specs, config=CONFIG)
    d.start()
    started = {e.task for e in d.pending(fx.PrepareWorkspace)}
    assert started == {"t.a", "t.b"}  # the two branches at once, the join after
    d.run()
    assert not d.decided(fx.Effect, "t")
    assert all(t.phase is Phase.MERGED for t in d.st.tasks.values())
    assert tasks_settled(d.st, ["t"])


def test_a_team_with_a_failed_child_is_settled_not_done() -> None:
    specs = [
        mission("t.a", parent="t"),
        mission("t.b", parent="t", depends_on=("t.a",)),
        TaskSpec(
            id="t", title="team", landing="none", restart=Restart(), team=True,
            depends_on=("t.a", "t.b"),
        ),
    ]  # fmt: skip
    d = CoreDriver(specs, config=CONFIG)
    finish(d, turn_of(d, "t.a"), ok=False, code=2)
    d.tick(100.0)
    assert d.st.tasks["t"].phase is Phase.WAITING
    assert tasks_settled(d.st, ["t"])
