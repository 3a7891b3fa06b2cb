"""A slot is kept for the dependents a landing task is about to unlock (core.holding)."""

from __future__ import annotations

from plait.core.model import RunConfig
from plait.testing.core_driver import CoreDriver, specs_from


def _start_order(hold: float) -> list[str]:
    # `a` leads the longest path (a → b → d); `c` is short work that is startable at once.
    specs = specs_from({"a": [], "b": ["a"], "d": ["b"], "c": []})
    config = RunConfig(project="sim", repo="/sim/repo", max_concurrency=1, hold_for_dependents=hold)
    d = CoreDriver(specs, config=config)
    d.run()
    tasks = d.st.tasks
    return sorted(tasks, key=lambda tid: tasks[tid].started_at)


def test_the_slot_waits_while_the_critical_path_lands() -> None:
    assert _start_order(hold=60.0) == ["a", "b", "d", "c"]


def test_without_a_hold_the_free_slot_goes_to_whatever_is_startable() -> None:
    assert _start_order(hold=0.0)[:2] == ["a", "c"]


def test_a_hold_ends_when_landing_takes_longer_than_it() -> None:
    # The simulated landing (push, PR, CI, merge) takes longer than a 0.5 s hold.
    assert _start_order(hold=0.5)[:2] == ["a", "c"]
