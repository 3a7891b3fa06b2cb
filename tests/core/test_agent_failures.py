"""Agent failure classes in the controller: cool-downs, nudges, fresh sessions, hopeless."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.cooldown import LADDER
from plait.core.model import Phase, RunConfig, Usage
from plait.core.plan import TaskSpec
from plait.core.progress import next_wakeup
from plait.core.task import attention_reason
from plait.testing.core_driver import CoreDriver


def _driver(n: int = 2, **cfg: object) -> CoreDriver:
    specs = [TaskSpec(id=str(i), title=f"task {i}") for i in range(1, n + 1)]
    config = RunConfig(project="p", repo="/r", max_concurrency=n, **cfg)  # type: ignore[arg-type]
    d = CoreDriver(specs, config=config)
    d.start()
    for effect in d.pending(fx.PrepareWorkspace):
        d.answer(effect.id)
    return d


def _finish(d: CoreDriver, task: str, **kw: object) -> fx.RunAgent:
    (effect,) = d.pending(fx.RunAgent, task)
    fields: dict[str, object] = {
        "at": d.now,
        "effect_id": effect.id,
        "task": task,
        "ok": False,
        "session_id": "s-1",
        "usage": Usage(input_tokens=10),
    }
    fields.update(kw)
    d.feed(ev.AgentFinished(**fields))  # type: ignore[arg-type]
    return effect


def test_rate_limit_cools_the_backend_and_keeps_the_session() -> None:
    d = _driver()
    _finish(d, "1", failure="rate_limit", error="429")
    t = d.st.tasks["1"]
    assert not attention_reason(t, d.st.config)
    assert t.counters.turn_failures == 0
    assert t.counters.start_failures == 0
    assert t.session_id == "s-1"
    assert t.current is not None
    assert t.step == "agent"
    cool = d.st.cooldowns["script"]
    assert cool.level == 1
    assert cool.until == d.now + LADDER[0] * d.st.config.cooldown_seconds
    assert next_wakeup(d.st) == cool.until
    # Task 2 is on the same backend: its running turn is not touched, but nothing new
    # starts on the backend until the cool-down ends.
    d.now += 1
    d.feed(ev.Tick(at=d.now))
    assert d.pending(fx.RunAgent, "1") == []
    # When the wait is over the same op resumes its session.
    d.now = cool.until + 0.1
    d.feed(ev.Tick(at=d.now))
    (again,) = d.pending(fx.RunAgent, "1")
    assert again.session_id == "s-1"
    assert again.turn.kind == "start"


def test_ladder_climbs_and_honours_a_later_reset_time() -> None:
    d = _driver(1)
    _finish(d, "1", failure="overloaded")
    d.now = d.st.cooldowns["script"].until + 1
    d.feed(ev.Tick(at=d.now))
    reset = d.now + 5000
    _finish(d, "1", failure="rate_limit", reset_at=reset)
    cool = d.st.cooldowns["script"]
    assert cool.level == 2
    assert cool.until == reset + 1.0


def test_success_clears_the_ladder() -> None:
    d = _driver(1)
    _finish(d, "1", failure="rate_limit")
    d.now = d.st.cooldowns["script"].until + 1
    d.feed(ev.Tick(at=d.now))
    _finish(d, "1", ok=True, commits_ahead=1, head_sha="abc")
    assert "script" not in d.st.cooldowns


def test_a_stall_gets_one_nudge_then_a_fresh_session() -> None:
    d = _driver(1)
    _finish(d, "1", failure="stalled", error="no output")
    t = d.st.tasks["1"]
    assert t.nudged
    assert t.counters.start_failures == 0
    (nudge,) = d.pending(fx.RunAgent, "1")
    assert nudge.turn.kind == "nudge"
    assert nudge.session_id == "s-1"
    _finish(d, "1", failure="stalled", error="still nothing")
    t = d.st.tasks["1"]
    assert not t.nudged
    assert t.counters.start_failures == 1
    assert t.session_id == ""
    d.now = t.retry_at + 1
    d.feed(ev.Tick(at=d.now))
    (fresh,) = d.pending(fx.RunAgent, "1")
    assert fresh.turn.kind == "start"
    assert fresh.session_id == ""


def test_unknown_session_falls_back_to_a_fresh_one_with_a_summary() -> None:
    d = _driver(1)
    _finish(d, "1", ok=True, commits_ahead=1, head_sha="a")
    while d.outstanding:
        d.answer(next(iter(d.outstanding)))
    d.human("1", "again")
    _finish(d, "1", failure="session", error="No conversation found")
    t = d.st.tasks["1"]
    assert t.session_id == ""
    assert t.counters.turn_failures == 0  # plait's own fallback, not a failure
    d.now = t.retry_at + 1
    d.feed(ev.Tick(at=d.now))
    (fresh,) = d.pending(fx.RunAgent, "1")
    assert fresh.session_id == ""
    assert "fresh session" in fresh.turn.summary


def test_auth_failure_needs_a_human_at_once() -> None:
    d = _driver(1)
    _finish(d, "1", failure="auth", error="Not logged in · Please run /login")
    t = d.st.tasks["1"]
    reason = attention_reason(t, d.st.config)
    assert "Not logged in" in reason
    # Said as what it is, after the one turn (it used to read "failed to start 3 times").
    assert reason.startswith("the agent CLI is not logged in")
    assert "3 times" not in reason
    assert t.phase is Phase.ACTIVE
    d.human("1", "logged in now")
    assert not attention_reason(d.st.tasks["1"], d.st.config)


def test_a_thread_total_counts_only_what_the_turn_added() -> None:
    """codex reports usage summed over its whole thread: a resumed turn adds the delta."""
    d = _driver(1)
    _finish(d, "1", ok=True, commits_ahead=1, head_sha="a", usage_cumulative=True,
            usage=Usage(input_tokens=100, output_tokens=10))  # fmt: skip
    assert d.st.tasks["1"].usage == Usage(input_tokens=100, output_tokens=10)
    while d.outstanding:
        d.answer(next(iter(d.outstanding)))
    d.human("1", "one more thing")
    (turn,) = d.pending(fx.RunAgent, "1")
    assert turn.session_id == "s-1"
    for effect in (turn,):
        d.feed(
            ev.AgentFinished(
                at=d.now, effect_id=effect.id, task="1", ok=True, session_id="s-1",
                usage=Usage(input_tokens=250, output_tokens=30), usage_cumulative=True,
                head_sha="a",
            )
        )  # fmt: skip
    assert d.st.tasks["1"].usage == Usage(input_tokens=250, output_tokens=30)


def test_attempts_cut_off_by_a_crash_count_in_the_totals() -> None:
    d = _driver(1)
    _finish(d, "1", ok=True, commits_ahead=1, head_sha="a", seconds=3.0,
            usage=Usage(input_tokens=10), interrupted_turns=2, interrupted_seconds=5.5,
            interrupted_usage=Usage(input_tokens=7, output_tokens=1))  # fmt: skip
    t = d.st.tasks["1"]
    assert t.turns == 3
    assert t.agent_seconds == 8.5
    assert t.usage == Usage(input_tokens=17, output_tokens=1)
