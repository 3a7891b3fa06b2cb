"""Property tests: no input makes a parser raise anything but `PlanError`, and valid plans
round-trip through both formats."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.core.plan import Plan
from plait.errors import PlanError, PlanProblem
from plait.plans import load_plan, parse_json, parse_markdown

FAST = settings(max_examples=200, deadline=None)
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
VALID_TEXTS = [
    (FIXTURES / "session_auth.md").read_text(),
    (FIXTURES / "session_auth.json").read_text(),
]

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,6}", fullmatch=True)
titles = st.from_regex(r"[A-Za-z][A-Za-z0-9 ,.'()]{0,30}[A-Za-z0-9]", fullmatch=True)
classes = st.sampled_from([None, "INFRA", "GATED", "BEHAVIOR"])


@st.composite
def dag_plans(draw: st.DrawFn) -> list[tuple[str, str, str | None, list[str]]]:
    """Tasks in plan order; each depends only on earlier ones, so the graph is a DAG."""
    task_ids = draw(st.lists(ids, min_size=1, max_size=12, unique=True))
    tasks = []
    for i, task_id in enumerate(task_ids):
        deps = draw(st.lists(st.sampled_from(task_ids[:i]), unique=True)) if i else []
        tasks.append((task_id, draw(titles), draw(classes), deps))
    return tasks


def to_markdown(tasks: list[tuple[str, str, str | None, list[str]]], graph: bool) -> str:
    out = ["# Generated Plan", "", "## Problem Statement", "", "Why.", "", "## Patches", ""]
    for task_id, title, cls, deps in tasks:
        tag = f" [{cls}]" if cls else ""
        out += [f"### Patch {task_id}{tag}: {title}", "", f"Do {title}.", ""]
        if not graph:
            out += [f"Depends on: {', '.join(deps) or 'none'}", ""]
    if graph:
        out += ["## Dependency Graph", ""]
        out += [f"- Patch {t} -> [{', '.join(deps)}]" for t, _, _, deps in tasks]
    return "\n".join(out) + "\n"


def to_json(tasks: list[tuple[str, str, str | None, list[str]]]) -> str:
    doc = {
        "projectName": "Generated Plan",
        "patches": [
            {"number": int(t) if t.isdecimal() and t == str(int(t)) else t, "title": title}
            | ({"classification": cls} if cls else {})
            for t, title, cls, _ in tasks
        ],
        "dependencyGraph": [{"patch": t, "dependsOn": deps} for t, _, _, deps in tasks],
        "openQuestions": [],
    }
    return json.dumps(doc, indent=2)


def assert_round_trip(plan: Plan, tasks: list[tuple[str, str, str | None, list[str]]]) -> None:
    assert plan.ids == tuple(t for t, _, _, _ in tasks)
    assert [t.depends_on for t in plan.tasks] == [tuple(deps) for _, _, _, deps in tasks]
    assert [t.title for t in plan.tasks] == [title for _, title, _, _ in tasks]
    assert [t.task_class for t in plan.tasks] == [cls for _, _, cls, _ in tasks]
    assert all(t.line > 0 for t in plan.tasks)


@FAST
@given(dag_plans(), st.booleans())
def test_markdown_round_trip(
    tasks: list[tuple[str, str, str | None, list[str]]], graph: bool
) -> None:
    assert_round_trip(parse_markdown(to_markdown(tasks, graph), "gen.md"), tasks)


@FAST
@given(dag_plans())
def test_json_round_trip(tasks: list[tuple[str, str, str | None, list[str]]]) -> None:
    assert_round_trip(parse_json(to_json(tasks), "gen.json"), tasks)


def problems_of(parse: Callable[[str, str], Plan], text: str, path: str) -> tuple[PlanProblem, ...]:
    """The problems `parse` reports; anything other than `PlanError` propagates and fails."""
    try:
        parse(text, path)
    except PlanError as exc:
        return exc.problems
    return ()


def check_only_plan_errors(parse: Callable[[str, str], Plan], text: str, path: str) -> None:
    for problem in problems_of(parse, text, path):
        assert problem.line >= 0
        assert problem.message.strip()
        assert problem.path == path


@FAST
@given(st.text())
def test_arbitrary_text_never_escapes(text: str) -> None:
    check_only_plan_errors(parse_markdown, text, "fuzz.md")
    check_only_plan_errors(parse_json, text, "fuzz.json")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid plan with a few lines deleted, duplicated, swapped or garbled."""
    lines = draw(st.sampled_from(VALID_TEXTS)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "dup", "swap", "garble", "cut"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "garble":
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.text(max_size=8)) + line[at + 1 :]
        else:
            lines = lines[: i + 1]
    return "\n".join(lines)


@FAST
@given(mutated())
def test_mutated_plans_never_escape(text: str) -> None:
    check_only_plan_errors(parse_markdown, text, "m.md")
    check_only_plan_errors(parse_json, text, "m.json")


@FAST
@given(dag_plans(), st.data())
def test_generated_plans_with_garbled_lines_never_escape(
    tasks: list[tuple[str, str, str | None, list[str]]], data: st.DataObject
) -> None:
    for text, path in ((to_markdown(tasks, True), "g.md"), (to_json(tasks), "g.json")):
        lines = text.split("\n")
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.sampled_from(["", "]", "{", "- Patch", "### Patch", '"x":']))
        check_only_plan_errors(
            parse_markdown if path.endswith(".md") else parse_json, "\n".join(lines), path
        )


@FAST
@given(
    st.binary(max_size=300) | st.sampled_from(VALID_TEXTS).map(str.encode),
    st.sampled_from(["p.md", "p.json", "plan"]),
)
def test_load_plan_on_arbitrary_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str
) -> None:
    path = tmp_path_factory.getbasetemp() / name
    path.write_bytes(data)
    for problem in problems_of(lambda _text, _path: load_plan(path), "", ""):
        assert problem.line >= 0
        assert problem.message


# Keys the gameplan reader looks at inside patches and entries, so fuzzing reaches it.
SCHEMA_KEYS = [
    *("number", "title", "classification", "complexity", "dependsOn", "patch", "ownedBy"),
    *("requiredBy", "before", "after", "changes", "files", "path", "spec", "id", "description"),
]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "1", "2", "a", "INFRA", "gated", "../x", "Patch 1"])
    | st.text(max_size=6)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(SCHEMA_KEYS),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)
GAMEPLAN_KEYS = [
    "projectName",
    "problemStatement",
    "patches",
    "dependencyGraph",
    "functionalChanges",
    "orderingConstraints",
    "acceptanceCriteria",
    "openQuestions",
    "testMap",
]


@FAST
@given(st.dictionaries(st.sampled_from(GAMEPLAN_KEYS), json_values), st.sampled_from([None, 1]))
def test_schema_shaped_json_never_escapes(doc: dict[str, object], indent: int | None) -> None:
    check_only_plan_errors(parse_json, json.dumps(doc, indent=indent), "s.json")
