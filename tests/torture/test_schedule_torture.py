"""kill -9 of an engine whose schedules are firing, at seeded random moments on a manual
clock, each followed by a new engine (issue 14, R1 "the same for a schedule", short form):
every due time of every schedule starts exactly one run, every run finishes, no agent
process is left and the store passes `PRAGMA integrity_check` after every kill.
`python -m bench R1C` runs the long form (an hour of schedules, ≥ 100 kills)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from plait.testing.schedule_torture import ScheduleTorture, ScheduleTortureResult


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kills_while_schedules_fire_lose_nothing_and_fire_nothing_twice(tmp_path: Path) -> None:
    torture = ScheduleTorture(tmp_path, minutes=5, seed=3)
    result = torture.run(4, timeout=480)
    assert result.kills == 4
    assert result.dues == 6  # five minutely, one every five minutes, none at minute 7
    assert result.problems() == [], result


def test_the_check_sees_a_lost_a_doubled_and_an_unfinished_run() -> None:
    result = ScheduleTortureResult(
        expected={"a", "b", "c"},
        fired=Counter({"a": 2, "c": 1}),
        statuses={"a": "done", "c": "failed"},
        integrity="ok",
    )
    problems = "\n".join(result.problems())
    assert "never fired: ['b']" in problems
    assert "fired more than once: ['a']" in problems
    assert "runs not done: {'b': None, 'c': 'failed'}" in problems
