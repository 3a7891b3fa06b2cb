"""The headless lines (and the timeline's): each says what happened in the user's words."""

from __future__ import annotations

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase
from plait.engine.loop import EngineResult
from plait.testing.core_driver import CoreDriver, specs_from
from plait.ui.headless import describe
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
