"""The live project in the core: tasks added at any time, and people's commands as events.

kill / retry / reset (soft and hard), tasks added by later plans and by `plait add`,
landing "none", and settling when what is left waits on a task that needs a human.
"""

from __future__ import annotations

from dataclasses import replace

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import OpKind, Phase, RunConfig
from plait.core.plan import TaskSpec
from plait.core.progress import settled, stuck_tasks, tasks_settled
from plait.core.task import attention_reason, display_status
from plait.testing.core_driver import CoreDriver, specs_from


def _agent_effect(d: CoreDriver, task: str) -> fx.RunAgent:
    [effect] = d.pending(fx.RunAgent, task)
    return effect


def _until_turn(d: CoreDriver, task: str) -> None:
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, task)))


# ---- kill and retry -------------------------------------------------------------------------
def test_kill_stops_the_turn_keeps_the_session_and_retry_continues_it() -> None:
    d = CoreDriver(specs_from({"a": []}))
    _until_turn(d, "a")
    first = _agent_effect(d, "a")
    d.kill("a")
    assert display_status(d.st.tasks["a"], d.config) == "stopped"
    # The engine stops the agent; its turn answers "killed" with what it had done.
    d.feed(
        ev.AgentFinished(
            at=d.now,
            effect_id=first.id,
            task="a",
            ok=False,
            failure="killed",
            session_id="s-1",
            seconds=3.0,
        )
    )
    t = d.st.tasks["a"]
    assert t.session_id == "s-1"
    assert t.interrupted
    assert t.turns == 1
    assert t.counters.turn_failures == 0
    assert not attention_reason(t, d.config)
    # Stopped: nothing moves, and a foreground run counts it as settled (needs a human).
    d.tick(100.0)
    assert not d.outstanding
    assert settled(d.st)
    assert stuck_tasks(d.st) == {"a"}
    d.retry("a")
    again = _agent_effect(d, "a")
    assert again.id != first.id
    assert again.session_id == "s-1"
    assert again.turn.kind == "continue"
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert not state.tasks["a"].interrupted


def test_kill_of_a_waiting_task_keeps_it_from_starting_until_retried() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}), config=RunConfig(project="p", repo="/r"))
    d.start()
    d.kill("b")
    d.run()
    assert d.st.tasks["a"].phase is Phase.MERGED
    assert d.st.tasks["b"].phase is Phase.WAITING
    assert not d.decided(fx.Effect, "b")
    assert tasks_settled(d.st, ["a", "b"])
    d.retry("b")
    assert d.run().tasks["b"].phase is Phase.MERGED


def test_kill_of_a_merged_task_changes_nothing() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run()
    before = d.st.tasks["a"]
    d.kill("a")
    assert d.st.tasks["a"] == before


def test_a_git_step_under_way_when_killed_finishes_then_the_task_waits() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=lambda s: bool(d.pending(fx.Push, "a")))
    [push] = d.pending(fx.Push, "a")
    d.kill("a")
    d.answer(push.id, "ok")
    assert d.st.tasks["a"].head_sha  # the push result was taken
    assert not d.outstanding  # and nothing followed it
    d.retry("a")
    assert d.run().tasks["a"].phase is Phase.MERGED


def test_retry_clears_needs_attention() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run()
    assert attention_reason(d.st.tasks["a"], d.config)
    d.retry("a")
    assert not attention_reason(d.st.tasks["a"], d.config)
    assert d.run().tasks["a"].phase is Phase.MERGED


# ---- reset -----------------------------------------------------------------------------------
def test_soft_reset_requeues_the_red_ci_that_wore_the_counter_out() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "ci", "fail", "fail", "fail")
    d.run()
    t = d.st.tasks["a"]
    assert "CI failed 3 times" in attention_reason(t, d.config)
    d.reset("a")
    t = d.st.tasks["a"]
    assert not attention_reason(t, d.config)
    assert t.current is not None
    assert t.current.kind is OpKind.CI
    assert d.run().tasks["a"].phase is Phase.MERGED


def test_hard_reset_discards_the_work_and_starts_over_from_main() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=lambda s: s.tasks["a"].pr is not None)
    old = d.st.tasks["a"]
    old_pr = old.pr.number if old.pr else 0
    d.reset("a", hard=True)
    [discard] = d.pending(fx.Discard, "a")
    assert (discard.branch, discard.worktree, discard.pr) == (old.branch, old.worktree, old_pr)
    assert display_status(d.st.tasks["a"], d.config) == "resetting"
    state = d.run()
    t = state.tasks["a"]
    assert t.phase is Phase.MERGED
    assert d.prs["a"].number != old_pr  # a new PR; the old one was closed
    assert t.turns >= 2  # what the first attempt cost stays counted
    ids = [e.id for dec in d.decisions for e in dec.effects]
    assert len(ids) == len(set(ids)), "an effect id was reused after the reset"
    kinds = [type(e).__name__ for e in d.decided(fx.Effect, "a")]
    assert kinds.index("Discard") < len(kinds) - 1
    assert kinds[kinds.index("Discard") + 1] == "PrepareWorkspace"


def test_hard_reset_abandons_the_effect_under_way() -> None:
    d = CoreDriver(specs_from({"a": []}))
    _until_turn(d, "a")
    turn = _agent_effect(d, "a")
    d.reset("a", hard=True)
    assert d.st.tasks["a"].in_flight != turn.id
    d.answer(turn.id, "ok")  # the abandoned turn's late result is ignored
    assert d.st.tasks["a"].current is not None
    assert d.st.tasks["a"].current.kind is OpKind.DISCARD
    assert d.run().tasks["a"].phase is Phase.MERGED


def test_hard_reset_refused_while_a_task_is_stacked_on_the_branch() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    d.script("a", "Merge", "fail", "fail")
    d.run(until=lambda s: s.tasks["b"].phase is Phase.ACTIVE)
    assert d.st.tasks["b"].stacked_on == "a"
    before = d.st.tasks["a"]
    d.reset("a", hard=True)
    assert d.st.tasks["a"] == before


# ---- adding tasks -------------------------------------------------------------------------
def test_tasks_added_later_run_with_their_plans_context() -> None:
    d = CoreDriver(specs_from({"a": []}), context="first plan")
    d.run()
    later = [
        TaskSpec(id="p2.1", title="one", plan="p2"),
        TaskSpec(id="p2.2", title="two", plan="p2", depends_on=("p2.1", "a")),
    ]
    d.add(later, plan="p2", context="second plan")
    state = d.run()
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())
    [start] = [t for t in d.decided(fx.RunAgent, "p2.1") if t.turn.kind == "start"]
    assert "second plan" in start.turn.description
    assert "first plan" not in start.turn.description
    [first] = [t for t in d.decided(fx.RunAgent, "a") if t.turn.kind == "start"]
    assert "first plan" in first.turn.description


def test_an_added_batch_that_breaks_the_graph_is_ignored_whole() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.start()
    before = d.st
    for bad in (
        [TaskSpec(id="a", title="again")],  # id taken
        [TaskSpec(id="x", title="x", depends_on=("nope",))],  # unknown dependency
        [
            TaskSpec(id="x", title="x", depends_on=("y",)),
            TaskSpec(id="y", title="y", depends_on=("x",)),
        ],
        [TaskSpec(id="x", title="x"), TaskSpec(id="x", title="x2")],  # twice in one batch
        [],
    ):
        d.add(bad)
        assert d.st.specs == before.specs
        assert dict(d.st.tasks) == dict(before.tasks)


def test_landing_none_finishes_with_the_answer_and_keeps_the_branch() -> None:
    spec = TaskSpec(id="ask", title="What does main do?", landing="none")
    d = CoreDriver([spec])
    d.script("ask", "RunAgent", "nochange")
    state = d.run()
    t = state.tasks["ask"]
    assert t.phase is Phase.MERGED
    assert display_status(t, d.config, landing="none") == "done"
    assert t.last_reply == "start done"
    assert not d.decided(fx.Push, "ask")
    assert not d.decided(fx.OpenPR, "ask")
    [cleanup] = d.decided(fx.Cleanup, "ask")
    assert cleanup.keep


# ---- settling -------------------------------------------------------------------------------
def test_run_settles_when_what_is_left_is_stacked_on_a_task_needing_attention() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    d.script("a", "Merge", "fatal")  # a's merge fails for good once b stacked on it
    state = d.run()  # before the fix this raised Stalled: b waited on a forever
    assert "merge failed" in attention_reason(state.tasks["a"], d.config)
    assert state.tasks["b"].stacked_on == "a"
    assert state.tasks["b"].pr is not None
    assert settled(state)
    assert stuck_tasks(state) == {"a", "b"}


def test_config_changed_keeps_the_projects_identity() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.start()
    wider = replace(d.config, project="other", repo="/elsewhere", max_concurrency=9)
    d.feed(ev.ConfigChanged(at=d.now, config=wider))
    assert d.st.config.max_concurrency == 9
    assert (d.st.config.project, d.st.config.repo) == (d.config.project, d.config.repo)
