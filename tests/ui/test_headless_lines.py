"""The headless lines (and the timeline's): each says what happened in the user's words."""

from __future__ import annotations

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase
from plait.engine.loop import EngineResult
from plait.testing.core_driver import CoreDriver, specs_from
from plait.ui.headless import describe, event_messages
from plait.ui.summary import report


def test_a_continued_turn_finishes_as_the_continue_turn_it_started_as() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [first] = d.pending(fx.RunAgent, "a")
    d.kill("a")
    d.feed(ev.AgentFinished(at=d.now, effect_id=first.id, task="a", ok=False,
                            failure="killed", session_id="s-1", seconds=1.0))  # fmt: skip
    d.retry("a")
    [again] = d.pending(fx.RunAgent, "a")
    assert again.turn.kind == "continue"
    old = d.st
    done = ev.AgentFinished(at=d.now, effect_id=again.id, task="a", ok=True,
                            session_id="s-1", seconds=2.0, commits_ahead=1)  # fmt: skip
    new = d.feed(done).state
    # "agent script starts a continue turn" was followed by "agent finished start turn".
    line = describe(done, old, new)
    assert line is not None
    assert line.startswith("agent finished continue turn in 2.0s")


def test_a_turn_a_restart_carries_on_is_said_to_go_on_and_to_end_as_carried_on() -> None:
    """After `plait down` (or kill -9) mid-turn and `plait up` the log had no line for
    the turn going on, and it ended as a plain "agent finished start turn"."""
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [turn] = d.pending(fx.RunAgent, "a")
    # The engine that starts again finds the turn's effect pending and carries it on.
    tick = ev.Tick(at=d.now, carried=(turn.id,))
    old = d.st
    new = d.feed(tick).state
    assert ("a", "agent script carries on its start turn after a restart") in event_messages(
        tick, old, new, ()
    )
    done = ev.AgentFinished(at=d.now, effect_id=turn.id, task="a", ok=True, seconds=2.0,
                            commits_ahead=1, interrupted_turns=1)  # fmt: skip
    old = d.st
    line = describe(done, old, d.feed(done).state)
    assert line is not None
    assert line.startswith("agent finished start turn (carried on after a restart), in 2.0s")
    # A plain Tick says nothing.
    assert event_messages(ev.Tick(at=d.now), d.st, d.st, ()) == []


def test_the_summary_points_at_the_other_tasks_even_when_they_landed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = CoreDriver(specs_from({"a": [], "b": []}))
    state = d.run()
    report(EngineResult(state=state, stopped=False), ids=["b"], json_mode=False)
    # It said `plait ps -p P`, which shows "no tasks" when the others have all landed.
    out = capsys.readouterr().out
    assert "1 other task(s) in the project: `plait ps -p" in out
    assert "--all`" in out
    assert state.tasks["a"].phase is Phase.MERGED
