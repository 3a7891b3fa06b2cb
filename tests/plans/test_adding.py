"""Several plans in one project: the first keeps its ids, later ones are namespaced, and
running a plan again adds only what it did not have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.core.plan import Plan, TaskSpec
from plait.errors import PlanError
from plait.plans.adding import tasks_to_add
from tests.api.helpers_live import Live, turn


def _plan(name: str, *ids: str, deps: dict[str, tuple[str, ...]] | None = None) -> Plan:
    deps = deps or {}
    tasks = tuple(TaskSpec(id=i, title=f"{name} {i}", depends_on=deps.get(i, ())) for i in ids)
    return Plan(name=name, title=name, tasks=tasks)


def _specs(*specs: TaskSpec) -> dict[str, TaskSpec]:
    return {s.id: s for s in specs}


def test_the_first_plan_keeps_its_ids_and_a_later_one_is_namespaced() -> None:
    first = tasks_to_add(_plan("core", "1", "2", deps={"2": ("1",)}), {})
    assert [t.id for t in first.tasks] == ["1", "2"]
    assert first.tasks[1].depends_on == ("1",)
    assert {t.plan for t in first.tasks} == {"core"}
    specs = _specs(*first.tasks)
    later = tasks_to_add(_plan("billing", "1", "2", deps={"2": ("1",)}), specs)
    assert [t.id for t in later.tasks] == ["billing.1", "billing.2"]
    assert later.tasks[1].depends_on == ("billing.1",)
    assert later.prefix == "billing."


def test_running_a_plan_again_adds_only_its_new_tasks() -> None:
    specs = _specs(*tasks_to_add(_plan("core", "1", "2"), {}).tasks)
    again = tasks_to_add(_plan("core", "1", "2", "3", deps={"3": ("2",)}), specs)
    assert [t.id for t in again.tasks] == ["3"]
    assert again.known == ("1", "2")
    specs = {**specs, **_specs(*tasks_to_add(_plan("billing", "1"), specs).tasks)}
    grown = tasks_to_add(_plan("billing", "1", "2"), specs)
    assert [t.id for t in grown.tasks] == ["billing.2"]


def test_an_id_taken_by_another_source_is_refused_with_the_plans_line() -> None:
    specs = _specs(TaskSpec(id="1", title="added by hand", origin="cli", plan="other"))
    plan = Plan(name="core", title="core", tasks=(TaskSpec(id="x", title="x", line=7),),
                source="plan.md")  # fmt: skip
    # (the first plan of a project that has tasks is namespaced, so no clash here)
    assert [t.id for t in tasks_to_add(plan, specs).tasks] == ["core.x"]
    clash = _specs(TaskSpec(id="core.x", title="hand-made", plan="other"))
    with pytest.raises(PlanError) as caught:
        tasks_to_add(plan, {**specs, **clash})
    assert (caught.value.problems[0].path, caught.value.problems[0].line) == ("plan.md", 7)


PLAN = """\
# Gameplan: {title}

## Patches

### Patch 1: First of {title}
Write notes/{title}-1.txt.

## Dependency Graph

- Patch 1 -> []
"""


def test_two_plans_run_into_one_project(tmp_path: Path) -> None:
    script: dict[str, object] = {
        "default": {"start": [turn("done", "notes/x.txt", "x\n", "x")]},
        "tasks": {
            "1": {"start": [turn("a", "notes/a.txt", "a\n", "a")]},
            "beta.1": {"start": [turn("b", "notes/b.txt", "b\n", "b")]},
        },
    }
    live = Live.make(tmp_path, script)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "two")
    for title in ("alpha", "beta"):
        plan = tmp_path / f"{title}.md"
        plan.write_text(PLAN.format(title=title))
        out = live.plait("run", str(plan), "-p", "two", "--json")
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout.splitlines()[-1])
        assert [t["id"] for t in summary["tasks"]] == (["1"] if title == "alpha" else ["beta.1"])
    rows = live.rows("two")
    assert {r["id"]: r["plan"] for r in rows.values()} == {"1": "alpha", "beta.1": "beta"}
    assert live.json("result", "1", "-p", "two")["id"] == "1"
    assert {"notes/a.txt", "notes/b.txt"} <= set(live.main_files())
