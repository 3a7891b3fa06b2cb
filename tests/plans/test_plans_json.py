"""JSON gameplans: the write-gameplan schema, lenient shapes, and line numbers of problems."""

from __future__ import annotations

import json
import pathlib
import textwrap
from collections.abc import Callable
from typing import TypeVar

import pytest

from plait.errors import PlanError, PlanProblem
from plait.plans import parse_json
from plait.plans.jsonpos import MAX_NESTING

T = TypeVar("T")

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def problems(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse_json(textwrap.dedent(text).lstrip("\n"), "plan.json")
    return list(info.value.problems)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line containing `needle`."""
    lines = [i + 1 for i, line in enumerate(text.split("\n")) if needle in line]
    return lines[nth]


def test_realistic_plan() -> None:
    text = (FIXTURES / "session_auth.json").read_text()
    plan = parse_json(text, "session_auth.json")
    assert plan.title == "Session Auth"
    assert plan.name == "session-auth"
    assert plan.ids == ("1", "2", "3", "4", "5")
    deps = {t.id: set(t.depends_on) for t in plan.tasks}
    # dependencyGraph, plus functionalChanges (owner before consumers), plus ordering.
    assert deps == {"1": set(), "2": {"1"}, "3": {"1"}, "4": {"2", "3"}, "5": {"2", "3", "4"}}
    assert [t.task_class for t in plan.tasks] == ["INFRA", "INFRA", "GATED", "BEHAVIOR", "BEHAVIOR"]
    assert [t.weight for t in plan.tasks] == [1, 3, 2, 2, 1]
    assert plan.task("1").line == line_of(text, '"number": 1,') - 1
    assert "Every handler checks cookies" in plan.context
    assert "No handler reads cookies directly" in plan.context


def test_declared_files_reach_the_tasks() -> None:
    plan = parse_json((FIXTURES / "session_auth.json").read_text(), "p.json")
    assert plan.task("1").files == ("app/settings.py",)
    assert plan.task("2").files == ("app/sessions.py",)
    text = json.dumps(
        {"projectName": "f", "patches": [
            {"number": 1, "title": "t", "spec": "s", "files": ["a.py", {"path": "b/"}, 3, "a.py"]},
            {"number": 2, "title": "u", "spec": "s", "files": "c.py"},
        ]}
    )  # fmt: skip
    plan = parse_json(text, "f.json")
    assert plan.task("1").files == ("a.py", "b/")
    assert plan.task("2").files == ("c.py",)


def test_descriptions_are_readable_markdown() -> None:
    plan = parse_json((FIXTURES / "session_auth.json").read_text(), "p.json")
    one = plan.task("1").description
    assert "### Changes\n\n- Add SESSION_TTL and SIGNING_KEYS to settings" in one
    assert "- `app/settings.py` (modify): new settings" in one
    assert "### Spec\n\nSESSION_TTL defaults to 12 hours." in one
    assert "### Test stubs introduced\n\n- test_settings_validate_keys" in one
    three = plan.task("3").description
    assert "### Functional changes owned\n\n- FC-2: Signed session tokens" in three
    assert "- a valid login sets an HttpOnly cookie" not in three
    assert "Patch 4: a valid login sets an HttpOnly cookie" in plan.task("4").description
    assert "Logout invalidates the cookie server-side" in plan.task("5").description
    assert "{" not in plan.task("5").description


def test_open_questions_are_refused_each_at_its_line() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [{"number": 1, "title": "One"}],
          "openQuestions": [
            "Do we keep v1 tokens?",
            {"question": "Who rotates keys?"}
          ]
        }
        """
    found = problems(text)
    assert [p.line for p in found] == [5, 6]
    assert all(p.hint == "resolve each open question and empty the list" for p in found)
    assert "v1 tokens" in found[0].message


def test_syntax_error_names_its_line() -> None:
    [problem] = problems("""
        {
          "projectName": "x",
          "patches": [
            {"number": 1 "title": "One"}
          ]
        }
        """)
    assert problem.line == 4
    assert "not valid JSON" in problem.message


def test_top_level_must_be_an_object() -> None:
    [problem] = problems("[1, 2]")
    assert problem.line == 1
    assert "object" in problem.message


def test_missing_project_name_and_bad_patch_fields() -> None:
    text = """
        {
          "patches": [
            {"number": 1, "title": "", "classification": "CHORE"},
            {"number": true, "title": "Two"},
            {"title": "Three"},
            {"number": 4, "title": "Four", "complexity": 0},
            "five"
          ]
        }
        """
    found = problems(text)
    by_line = {(p.line, p.message.split(" ")[0]) for p in found}
    assert (1, "the") in by_line  # the plan has no title, at the top object
    messages = [p.message for p in found]
    assert any("unknown task class 'CHORE'" in m for m in messages)
    assert any("task '1' has no title" in m for m in messages)
    assert [p.line for p in found if "'number' must be" in p.message] == [4]
    assert [p.line for p in found if "has no 'number'" in p.message] == [5]
    assert [p.line for p in found if "complexity" in p.message] == [6]
    assert [p.line for p in found if "must be an object" in p.message] == [7]
    assert any('"projectName"' in p.hint for p in found)


def test_unknown_dependency_points_at_the_item_line() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [{"number": 1, "title": "One"}, {"number": 2, "title": "Two"}],
          "dependencyGraph": [
            {"patch": 2, "dependsOn": [
              1,
              12
            ]}
          ]
        }
        """
    [problem] = problems(text)
    assert problem.line == 7
    assert "unknown task '12'" in problem.message


def test_graph_entry_for_unknown_patch_and_duplicate_entry() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [{"number": 1, "title": "One"}],
          "dependencyGraph": [
            {"patch": 1, "dependsOn": []},
            {"patch": 9, "dependsOn": []},
            {"patch": 1, "dependsOn": []}
          ]
        }
        """
    found = problems(text)
    assert [(p.line, "unknown patch '9'" in p.message) for p in found] == [(6, True), (7, False)]
    assert "first at line 5" in found[1].message


def test_graph_classification_must_agree_with_patch() -> None:
    [problem] = problems("""
        {
          "projectName": "x",
          "patches": [{"number": 1, "title": "One", "classification": "INFRA"}],
          "dependencyGraph": [{"patch": 1, "classification": "gated", "dependsOn": []}]
        }
        """)
    assert problem.line == 4
    assert "INFRA" in problem.message
    assert "GATED" in problem.message


def test_duplicate_keys_are_reported_at_the_second_one() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [
            {"number": 1, "title": "One",
             "title": "Uno"}
          ]
        }
        """
    [problem] = problems(text)
    assert problem.line == 5
    assert "duplicate key 'title' (first at line 4)" in problem.message


def test_duplicate_patch_numbers_mention_both_lines() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [
            {"number": 1, "title": "One"},
            {"number": 1, "title": "One again"}
          ]
        }
        """
    [problem] = problems(text)
    assert problem.line == 5
    assert "duplicate task id '1' (first declared at line 4)" in problem.message


def test_older_shapes_are_read_leniently() -> None:
    doc = {
        "projectName": "Old Plan",
        "patches": [
            {"number": "a", "title": "A", "complexity": "2", "spec": {"text": "do A"}},
            {"number": "b", "title": "B", "dependsOn": ["a"], "changes": [{"description": "x"}]},
            {"number": "c", "title": "C"},
        ],
        "orderingConstraints": [
            {"patch": "c", "after": ["b"]},
            {"patch": "a", "before": "c"},
            ["not", "an", "object"],
        ],
        "acceptanceCriteria": [{"criterion": "C works", "patches": ["c"]}],
        "openQuestions": [],
        "somethingNew": {"ignored": True},
    }
    plan = parse_json(json.dumps(doc, indent=2), "old.json")
    assert [t.depends_on for t in plan.tasks] == [(), ("a",), ("b", "a")]
    assert plan.task("a").weight == 2
    assert "do A" in plan.task("a").description
    assert "- x" in plan.task("b").description
    assert "C works" in plan.task("c").description


def test_functional_change_with_unknown_owner_or_consumer() -> None:
    text = """
        {
          "projectName": "x",
          "patches": [{"number": 1, "title": "One"}],
          "functionalChanges": [
            {"id": "F1", "ownedBy": 7, "requiredBy": [1]},
            {"id": "F2", "ownedBy": 1, "requiredBy": [1, 8]}
          ]
        }
        """
    found = problems(text)
    assert [p.line for p in found] == [5, 6]
    assert "'ownedBy' names unknown patch '7'" in found[0].message
    assert "'requiredBy' names unknown patch '8'" in found[1].message


def test_empty_patches_is_an_error() -> None:
    [problem] = problems('{"projectName": "x", "patches": []}')
    assert problem.message == "the plan has no tasks"


def nested_plan(depth: int, title: str = "One") -> str:
    """A plan whose deepest value is at `depth` (the top object is level 1): a patch's spec,
    under the top object, the patches list and the patch, on line 3."""
    spec = "[" * (depth - 3) + "]" * (depth - 3)
    patch = f'{{"number": 1, "title": "{title}",\n "spec": {spec}}}'
    return f'{{"projectName": "x",\n "patches": [{patch}]}}'


def in_deep_stack(frames: int, call: Callable[[], T]) -> T:
    """`call()` with `frames` more frames on the stack, as a deep caller would have."""
    return call() if frames == 0 else in_deep_stack(frames - 1, call)


@pytest.mark.parametrize("frames", [0, 600])
def test_nesting_at_the_limit_is_read_however_deep_the_caller(frames: int) -> None:
    text = nested_plan(MAX_NESTING)
    assert in_deep_stack(frames, lambda: parse_json(text, "deep.json")).ids == ("1",)


@pytest.mark.parametrize("frames", [0, 600])
def test_a_problem_next_to_nesting_at_the_limit_is_reported(frames: int) -> None:
    # A problem makes the reader read again, tracking every level: the deeper path.
    text = nested_plan(MAX_NESTING, title="")
    with pytest.raises(PlanError) as info:
        in_deep_stack(frames, lambda: parse_json(text, "deep.json"))
    assert [p.message for p in info.value.problems] == ["task '1' has no title"]


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 950, 100_000])
def test_nesting_past_the_limit_is_refused_at_its_line(depth: int) -> None:
    [problem] = problems(nested_plan(depth))
    assert problem.message == f"values are nested deeper than {MAX_NESTING} levels"
    assert problem.line == 3
    assert "six levels" in problem.hint


def test_brackets_in_strings_do_not_count_as_nesting() -> None:
    text = nested_plan(10, title="[" * 500 + "{" * 500)
    assert parse_json(text, "p.json").ids == ("1",)
