"""Who a broadcast reaches: the agents at work. A change approved and on its way to main
(waiting out its merge delay, merging) is not sent back to its agent, and the reply says
which tasks were passed by and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plait.api import commands as cmd
from plait.core import effects as fx
from plait.core.model import Phase, RunConfig
from plait.core.plan import Restart, TaskSpec
from plait.core.task import display_status, needs_attention
from plait.testing.core_driver import CoreDriver

CONFIG = RunConfig(project="p", repo="/r", agent="codex")


def _approved_a_and_working_b() -> CoreDriver:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=replace(CONFIG, merge_delay=300.0))
    d.run(until=lambda s: display_status(s.tasks["a"], d.config) == "approved")
    d.add([TaskSpec(id="b", title="do b")])
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "b")))
    return d


def test_an_approved_pr_waiting_out_its_merge_delay_is_not_sent_back_to_its_agent() -> None:
    d = _approved_a_and_working_b()
    cast = cmd.broadcast(d.st, "Stop and write down what you learned.", now=d.now)
    for command in cast.commands:
        d.feed(command.event)
    assert cast.tasks == ["b"]
    assert cast.skipped == (("a", "approved, waiting to merge"),)
    assert "not disturbed: a (approved, waiting to merge)" in cast.done()
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert len(d.decided(fx.RunAgent, "a")) == 1  # no "fixing-human" turn
    assert [e.turn.kind for e in d.decided(fx.RunAgent, "b")] == ["start", "human"]


def test_with_only_approved_changes_the_broadcast_is_refused_saying_why() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=replace(CONFIG, merge_delay=300.0))
    d.run(until=lambda s: display_status(s.tasks["a"], d.config) == "approved")
    with pytest.raises(cmd.CommandError, match=r"a is approved, waiting to merge"):
        cmd.broadcast(d.st, "hello", now=d.now)


def test_a_merge_landing_change_on_its_way_to_main_is_passed_by() -> None:
    spec = TaskSpec(id="m", title="do m", landing="merge")
    d = CoreDriver([spec], config=CONFIG)
    d.run(until=lambda s: s.tasks["m"].verdict == "approved")
    assert cmd.not_at_work(d.st, "m") == "merging"  # syncing with main first
    d.run(until=lambda s: bool(d.pending(fx.MergeToMain, "m")))
    assert cmd.not_at_work(d.st, "m") == "merging"


def test_a_failed_mission_and_a_task_that_needs_attention_are_passed_by() -> None:
    """A message clears a task's failure: a broadcast (`b` in the TUI, the dashboard's
    Broadcast) must not revive every failed mission and every task waiting for a person
    — each would run another agent turn that nobody asked for."""
    crashed = TaskSpec(id="m", title="a mission", landing="none", restart=Restart())
    d = CoreDriver([crashed, TaskSpec(id="a", title="do a")], config=CONFIG)
    d.script("m", "RunAgent", "fail")
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run(until=lambda s: s.tasks["m"].failed != "" and needs_attention(s.tasks["a"], d.config))
    d.add([TaskSpec(id="b", title="do b")])
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "b")))
    assert display_status(d.st.tasks["m"], d.config, landing="none") == "failed"
    cast = cmd.broadcast(d.st, "Remember the changelog.", now=d.now)
    assert cast.tasks == ["b"]
    assert dict(cast.skipped) == {"m": "failed", "a": "needs attention"}
    assert "not disturbed: m (failed), a (needs attention)" in cast.done()
    with pytest.raises(cmd.CommandError, match=r"m is failed; a is needs attention"):
        cmd.broadcast(replace(d.st, order=("m", "a")), "hello", now=d.now)
