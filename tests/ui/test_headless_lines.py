"""The headless lines (and the timeline's): each says what happened in the user's words."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.testing.core_driver import CoreDriver, specs_from
from plait.ui.headless import describe


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
