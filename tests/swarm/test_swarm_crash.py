"""kill -9 of `plait swarm` at seeded random moments, ten times, then let it finish
(issue 10, R1): no ticket lost, none merged twice, no claim held by a dead worker, no
agent process left. `python -m bench R1S` runs the same with more kills."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.testing.swarm_torture import Torture

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_ten_kills_at_random_points_of_a_swarm_run(tmp_path: Path) -> None:
    torture = Torture(tmp_path, tickets=10, seed=10)
    result = torture.run(kills=10)
    assert result.kills == 10
    assert result.problems(10) == [], result
