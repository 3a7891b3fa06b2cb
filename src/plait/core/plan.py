"""What a plan is once parsed: tasks with dependencies. No I/O here.

Parsers in `plait.plans` produce a `Plan`; the controller only ever sees `TaskSpec`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Task ids end up in branch names, directory names and effect ids, so they are kept to a
# safe alphabet (QUALITY S3): letters, digits, dot, dash, underscore; no leading dot/dash.
TASK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

TASK_CLASSES = ("INFRA", "GATED", "BEHAVIOR")

LANDINGS = ("pr", "watch", "none")


def is_valid_task_id(task_id: str) -> bool:
    return bool(TASK_ID_RE.match(task_id)) and ".." not in task_id and not task_id.endswith(".")


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """One unit of agent work as the plan describes it."""

    id: str
    title: str
    description: str = ""
    task_class: str | None = None
    depends_on: tuple[str, ...] = ()
    agent: str | None = None
    # Where the task was declared, for messages ("plan.md:12").
    line: int = 0
    # Relative weight for critical-path ordering (the JSON gameplan's `complexity`).
    weight: int = 1
    # How the work lands: "pr" (open, keep green, merge), "watch" (an adopted PR plait
    # keeps green but leaves for a human to merge) or "none" (no branch to land: the
    # agent's final answer is the result).
    landing: str = "pr"
    # Which plan the task came from ("" for the project's first plan): its shared context
    # goes to the agent. `origin` says which source added it (plan, cli, adopt…).
    plan: str = ""
    origin: str = ""
    model: str | None = None  # the agent's model for this task (default: the project's)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated plan: tasks in plan order with dependencies that exist and form a DAG."""

    name: str
    title: str
    tasks: tuple[TaskSpec, ...]
    source: str = ""
    context: str = field(default="", repr=False)

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks)


def slugify(text: str, *, fallback: str = "plan") -> str:
    """A project name from a title: lowercase kebab-case, safe as a directory name."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
    return slug or fallback
