"""Adding a plan's tasks to a live project that may already hold tasks. Pure.

A project can take several plans over its life. The first plan keeps its task ids
("1", "2"…); the tasks of every later plan are named `<plan>.<id>` ("billing.1"), so two
plans' "Patch 1" never collide. Running a plan that is already in the project again adds
only the tasks it did not have (a plan edited to grow a patch); the rest are left as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from plait.core.plan import Plan, TaskSpec, is_valid_task_id
from plait.errors import PlanError, PlanProblem


@dataclass(frozen=True, slots=True)
class Addition:
    tasks: tuple[TaskSpec, ...]  # new tasks, ids as the project will know them
    known: tuple[str, ...]  # the plan's tasks the project already has (project ids)
    prefix: str  # "" or "<plan>." — how this plan's ids are named in the project


def plan_prefix(plan: Plan, specs: Mapping[str, TaskSpec]) -> str:
    """How the tasks of `plan` are (or will be) named in a project holding `specs`."""
    mine = [tid for tid, s in specs.items() if s.plan == plan.name]
    dotted = f"{plan.name}."
    if mine:
        return dotted if all(tid.startswith(dotted) for tid in mine) else ""
    if specs and _started_before_plans_had_names(plan, specs):
        return ""
    return dotted if specs else ""


def _started_before_plans_had_names(plan: Plan, specs: Mapping[str, TaskSpec]) -> bool:
    """A project made by an older plait from this very plan: its tasks carry no plan
    name, but the ids and titles are the plan's."""
    return all(
        (s := specs.get(t.id)) is not None and not s.plan and s.title == t.title for t in plan.tasks
    )


def tasks_to_add(plan: Plan, specs: Mapping[str, TaskSpec], *, origin: str = "plan") -> Addition:
    prefix = plan_prefix(plan, specs)
    known: list[str] = []
    new: list[TaskSpec] = []
    problems: list[PlanProblem] = []
    for t in plan.tasks:
        tid = prefix + t.id
        existing = specs.get(tid)
        if existing is not None:
            if existing.plan not in (plan.name, ""):
                problems.append(
                    PlanProblem(
                        plan.source or plan.name,
                        t.line,
                        f"task id {tid!r} is taken by another source in this project",
                        "rename the patch, or add the plan to another project (--project)",
                    )
                )
            known.append(tid)
            continue
        if not is_valid_task_id(tid):
            problems.append(
                PlanProblem(
                    plan.source or plan.name,
                    t.line,
                    f"task id {tid!r} (the plan's name and the patch id) is not a valid id",
                    "shorten the plan's title or the patch id (at most 64 characters)",
                )
            )
            continue
        deps = tuple(prefix + d for d in t.depends_on)
        new.append(replace(t, id=tid, depends_on=deps, plan=plan.name, origin=origin))
    if problems:
        raise PlanError(problems)
    return Addition(tasks=tuple(new), known=tuple(known), prefix=prefix)
