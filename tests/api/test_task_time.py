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


def test_a_team_and_its_member_needing_a_person_stop_their_clocks_until_retried() -> None:
    """Found in a newcomer trial: a team whose member needed attention showed 30m04s and
    growing in `plait ps` (only failed missions had their time stopped)."""
    specs = [
        TaskSpec(id="t.schema", title="schema", landing="pr", restart=Restart(), parent="t"),
        TaskSpec(id="t", title="team", landing="none", restart=Restart(), team=True,
                 depends_on=("t.schema",)),
    ]  # fmt: skip
    d = CoreDriver([], config=RunConfig(project="p", repo="/r", max_concurrency=8))
    d.script("t.schema", "RunAgent", "nochange", "nochange", "nochange")
    d.start()
    d.feed(ev.TasksAdded(at=d.now, tasks=tuple(specs)))  # as `plait apply` adds a team
    d.run()
    ids = ("t.schema", "t")

    def times() -> dict[str, float]:
        return {tid: task_row(d.st, d.st.tasks[tid], now=d.now)["duration_s"] for tid in ids}

    rows = {tid: task_row(d.st, d.st.tasks[tid], now=d.now) for tid in ids}
    assert {r["status"] for r in rows.values()} == {"needs-attention"}
    before = times()
    assert all(v > 0 for v in before.values())
    d.tick(1800.0)
    assert times() == before
    d.feed(ev.TaskRetried(at=d.now, task="t.schema"))
    assert times()["t.schema"] > before["t.schema"]


def test_a_stopped_task_s_clock_stops_with_its_last_turn() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=RunConfig(project="p", repo="/r"))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [turn] = d.pending(fx.RunAgent, "a")
    d.tick(5.0)
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="a", ok=True))
    d.feed(ev.TaskKilled(at=d.now, task="a", reason="enough"))
    row = task_row(d.st, d.st.tasks["a"], now=d.now)
    assert row["status"] == "stopped"
    d.tick(600.0)
    assert task_row(d.st, d.st.tasks["a"], now=d.now)["duration_s"] == row["duration_s"]
