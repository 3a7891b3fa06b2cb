"""What `plait wait` says when a task it waits for needs a person.

Found in a newcomer trial: `plait apply team.toml`, a member (landing pr) whose agent
committed nothing needed attention, and `plait wait m8` printed only `m8:
needs-attention` (exit 10) — neither the member nor why nor what frees it; `plait wait
m8.schema` likewise printed no reason. `plait status` knew all three."""

from __future__ import annotations

from plait.api.views import task_row
from plait.cli.tasks import attention_notes
from plait.core import effects as fx
from plait.core.model import RunConfig, RunState
from plait.core.plan import Restart, TaskSpec
from plait.testing.core_driver import CoreDriver

CONFIG = RunConfig(project="p", repo="/r", max_concurrency=8)


def _team_with_a_stuck_member() -> RunState:
    specs = [
        TaskSpec(id="t.schema", title="schema", landing="pr", restart=Restart(), parent="t"),
        TaskSpec(id="t.api", title="api", restart=Restart(), parent="t", depends_on=("t.schema",)),
        TaskSpec(
            id="t", title="team", landing="none", restart=Restart(), team=True,
            depends_on=("t.schema", "t.api"),
        ),
    ]  # fmt: skip
    d = CoreDriver(specs, config=CONFIG)
    d.script("t.schema", "RunAgent", "nochange", "nochange", "nochange")
    d.run()
    assert len(d.decided(fx.RunAgent, "t.schema")) == 3
    return d.st


def _rows(state: RunState) -> dict[str, dict[str, object]]:
    return {tid: task_row(state, state.tasks[tid]) for tid in state.order}


def test_waiting_on_a_team_names_the_member_that_needs_a_person_and_why() -> None:
    rows = _rows(_team_with_a_stuck_member())
    assert rows["t"]["status"] == "needs-attention"
    assert rows["t"]["attention"] is None  # the team's trouble is its member's
    notes = "".join(attention_notes(rows, ["t"]))
    reason = rows["t.schema"]["attention"]
    assert isinstance(reason, str)
    assert reason
    assert f"  t.schema needs attention: {reason}\n" in notes
    assert "`plait retry t.schema`" in notes
    assert "t.api" not in notes  # it only waits for t.schema
    # waiting on the member itself says the same, once
    assert "".join(attention_notes(rows, ["t.schema", "t"])) == notes


def test_nothing_is_added_when_no_task_needs_a_person() -> None:
    d = CoreDriver([TaskSpec(id="a", title="do a")], config=CONFIG)
    d.run()
    assert attention_notes(_rows(d.st), ["a"]) == []
