"""A task's time in `plait ps`, `plait status` and the API (`duration_s`)."""

from __future__ import annotations

from dataclasses import replace

from plait.api.views import task_row
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import RunConfig
from plait.core.plan import Restart, TaskSpec
from plait.testing.core_driver import CoreDriver


def test_a_failed_mission_s_time_stops_when_it_failed_and_runs_again_on_retry() -> None:
    """Found trying plait: a crashed mission (restart never) showed 28 s, then 2m16s,
    2m51s… in `plait ps` for as long as the engine ran."""
    spec = replace(TaskSpec(id="m1", title="crash", landing="none"), restart=Restart())
    d = CoreDriver([spec], config=RunConfig(project="p", repo="/r"))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "m1")))
    [turn] = d.pending(fx.RunAgent, "m1")
    d.tick(5.0)
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="m1", ok=False, exit_code=7,
                            failure="crash", error="exit 7"))  # fmt: skip
    assert d.st.tasks["m1"].failed
    took = task_row(d.st, d.st.tasks["m1"], now=d.now)["duration_s"]
    assert took >= 5.0
    d.tick(600.0)
    assert task_row(d.st, d.st.tasks["m1"], now=d.now)["duration_s"] == took
    # Retried, it is at work again and its clock runs.
    d.feed(ev.TaskRetried(at=d.now, task="m1"))
    assert task_row(d.st, d.st.tasks["m1"], now=d.now + 1)["duration_s"] > took
