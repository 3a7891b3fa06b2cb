"""Checks shared by every gameplan format, and the step that turns drafts into a `Plan`.

How this works: a parser reads its format into `Draft`s (one per task, with the line of
each thing it may need to complain about) and appends format-specific `PlanProblem`s to a
list as it goes. `finish_plan` then runs the rules every format shares (ids, titles,
dependencies, cycles), and either raises one `PlanError` carrying every problem or returns
the `Plan`. Nothing here stops at the first problem.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from dataclasses import dataclass, field

from plait.core.plan import TASK_CLASSES, Plan, TaskSpec, slugify, task_id_problem
from plait.errors import PlanError, PlanProblem

ID_HINT = (
    "use letters, digits, '.', '-' or '_' (at most 64, starting with a letter or digit), "
    "e.g. 1, 2a, auth-1"
)
_MESSAGE_LIMIT = 300
# What `str.splitlines` breaks on: a title becomes a commit subject and a row in a table.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_ONE_LINE_HINT = "keep a title to one line; put the rest in the description"
CLASS_HINT = f"use one of {', '.join(TASK_CLASSES)} (or leave the class out)"


@dataclass(slots=True)
class Dep:
    """One dependency as written: the id it names and the line it was written on."""

    id: str
    line: int


@dataclass(slots=True)
class Draft:
    """A task as a parser read it, before the shared checks."""

    id: str
    line: int
    title: str
    description: str = ""
    task_class: str | None = None
    deps: list[Dep] = field(default_factory=list)
    weight: int = 1
    files: tuple[str, ...] = ()  # the paths the plan says it touches


class Problems:
    """Collects problems for one plan file."""

    def __init__(self, path: str, items: list[PlanProblem] | None = None) -> None:
        self.path = path
        self.items: list[PlanProblem] = list(items or ())
        self.warnings: list[PlanProblem] = []
        self.suggestions_left = 100

    def add(self, line: int, message: str, hint: str) -> None:
        if len(message) > _MESSAGE_LIMIT:  # it may quote a 10 MB line back: keep both ends
            message = message[: _MESSAGE_LIMIT - 100] + " … " + message[-97:]
        self.items.append(PlanProblem(self.path, max(line, 0), message, hint))

    def warn(self, line: int, message: str, hint: str) -> None:
        """Something the plan can run with but the user probably did not mean."""
        self.warnings.append(PlanProblem(self.path, max(line, 0), message, hint))

    def did_you_mean(self, word: str, known: list[str]) -> str:
        """ "did you mean 'x'? " for a close known id, or "" if none is close."""
        # Each suggestion compares against every id: bound the work a very bad plan costs.
        self.suggestions_left -= 1
        if self.suggestions_left < 0 or len(word) > 64:
            return ""
        close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
        return f"did you mean {close[0]!r}? " if close else ""

    def raise_if_any(self) -> None:
        if self.items:
            raise PlanError(sorted(self.items, key=lambda p: p.line))


def normalize_class(raw: str, line: int, problems: Problems) -> str | None:
    """The stored (uppercase) task class, or None after reporting an unknown one."""
    upper = raw.strip().upper()
    if upper in TASK_CLASSES:
        return upper
    problems.add(line, f"unknown task class {raw.strip()!r}", CLASS_HINT)
    return None


def finish_plan(
    *,
    path: str,
    title: str,
    context: str,
    drafts: list[Draft],
    problems: Problems,
    title_line: int = 1,
    title_hint: str = "give the plan a title",
) -> Plan:
    """Run the shared checks, then build the `Plan` or raise `PlanError` with everything."""
    if not title.strip():
        problems.add(title_line, "the plan has no title", title_hint)
    elif _LINE_BREAK.search(title):
        problems.add(title_line, "the plan's title has more than one line", _ONE_LINE_HINT)
    if not drafts:
        problems.add(
            title_line, "the plan has no tasks", "add at least one patch (task) to the plan"
        )
    first_line = _check_ids_and_titles(drafts, problems)
    deps = _check_deps(drafts, first_line, problems)
    _report_cycles(drafts, deps, first_line, problems)
    problems.raise_if_any()
    tasks = tuple(
        TaskSpec(
            id=d.id,
            title=d.title.strip(),
            description=d.description,
            task_class=d.task_class,
            depends_on=tuple(deps[d.id]),
            line=d.line,
            weight=d.weight,
            files=d.files,
        )
        for d in drafts
    )
    return Plan(
        name=slugify(title),
        title=title.strip(),
        tasks=tasks,
        source=path,
        context=context,
        warnings=tuple(sorted(problems.warnings, key=lambda w: w.line)),
    )


def _check_ids_and_titles(drafts: list[Draft], problems: Problems) -> dict[str, int]:
    """Report bad ids, duplicates and missing titles; return id -> line of first use."""
    first_line: dict[str, int] = {}
    for d in drafts:
        why = task_id_problem(d.id)
        if why:
            problems.add(d.line, f"invalid task id {d.id!r}: it {why}", ID_HINT)
        elif d.id in first_line:
            problems.add(
                d.line,
                f"duplicate task id {d.id!r} (first declared at line {first_line[d.id]})",
                "give each patch its own id",
            )
        else:
            first_line[d.id] = d.line
        if not d.title.strip():
            problems.add(d.line, f"task {d.id!r} has no title", "write a short title")
        elif _LINE_BREAK.search(d.title):
            problems.add(d.line, f"task {d.id!r} has a title of more than one line", _ONE_LINE_HINT)
    return first_line


def _check_deps(
    drafts: list[Draft], first_line: dict[str, int], problems: Problems
) -> dict[str, list[str]]:
    """Report unknown and self dependencies; return id -> known deps, in order, deduped."""
    known = list(first_line)
    out: dict[str, list[str]] = {}
    for d in drafts:
        kept = out.setdefault(d.id, [])
        for dep in d.deps:
            if dep.id == d.id:
                problems.add(
                    dep.line,
                    f"task {d.id!r} depends on itself",
                    "remove the task from its own dependencies",
                )
            elif dep.id not in first_line:
                hint = problems.did_you_mean(dep.id, known)
                problems.add(
                    dep.line,
                    f"task {d.id!r} depends on unknown task {dep.id!r}",
                    f"{hint}depend only on ids the plan declares",
                )
            elif dep.id not in kept:
                kept.append(dep.id)
    return out


def _report_cycles(
    drafts: list[Draft],
    deps: dict[str, list[str]],
    first_line: dict[str, int],
    problems: Problems,
) -> None:
    """One problem per strongly connected group of tasks, showing a shortest cycle in it."""
    order = {task_id: i for i, task_id in enumerate(first_line)}
    for component in _strongly_connected(list(first_line), deps):
        if len(component) < 2:
            continue
        start = min(component, key=order.__getitem__)
        cycle = _shortest_cycle(start, component, deps)
        problems.add(
            first_line[start],
            "dependency cycle: " + " -> ".join(cycle),
            "break the cycle by removing one of these dependencies",
        )


def _strongly_connected(nodes: list[str], deps: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm without recursion, so 10,000-task chains cannot overflow."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = deps.get(node, [])
            if child_i < len(children):
                work.append((node, child_i + 1))
                child = children[child_i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _shortest_cycle(start: str, component: set[str], deps: dict[str, list[str]]) -> list[str]:
    """Breadth-first from `start` back to itself inside its component: `[start, ..., start]`."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in deps.get(node, ()):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if child in component and child not in came_from and child != node:
                came_from[child] = node
                queue.append(child)
    return [start, start]  # unreachable for a real component; keeps the type total
