"""Rules shared by both formats: ids, titles, dependencies, cycles; every problem reported."""

from __future__ import annotations

import json

import pytest

from plait.errors import PlanError, PlanProblem
from plait.plans import parse_json, parse_markdown


def md_plan(patches: list[tuple[str, str, list[str]]]) -> str:
    lines = ["# Plan", "## Patches"]
    lines += [f"### Patch {pid}: {title}" for pid, title, _ in patches]
    lines += ["## Dependency Graph"]
    lines += [f"- Patch {pid} -> [{', '.join(deps)}]" for pid, _, deps in patches]
    return "\n".join(lines) + "\n"


def md_problems(patches: list[tuple[str, str, list[str]]]) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse_markdown(md_plan(patches), "plan.md")
    return list(info.value.problems)


def json_problems(patches: list[tuple[str, str, list[str]]]) -> list[PlanProblem]:
    doc = {
        "projectName": "Plan",
        "patches": [{"number": pid, "title": title} for pid, title, _ in patches],
        "dependencyGraph": [{"patch": pid, "dependsOn": deps} for pid, _, deps in patches],
    }
    with pytest.raises(PlanError) as info:
        parse_json(json.dumps(doc, indent=1), "plan.json")
    return list(info.value.problems)


def test_cycle_is_shown_as_a_path_at_the_first_patch() -> None:
    [problem] = md_problems([("1", "A", ["3"]), ("2", "B", ["1"]), ("3", "C", ["2"])])
    assert problem.message == "dependency cycle: 1 -> 3 -> 2 -> 1"
    assert problem.line == 3  # '### Patch 1' is the third line
    assert problem.hint == "break the cycle by removing one of these dependencies"


def test_each_separate_cycle_is_reported() -> None:
    found = md_problems(
        [("a", "A", ["b"]), ("b", "B", ["a"]), ("c", "C", []), ("d", "D", ["e"]), ("e", "E", ["d"])]
    )
    assert [p.message for p in found] == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: d -> e -> d",
    ]


def test_shortest_cycle_is_shown_inside_a_tangle() -> None:
    found = md_problems([("1", "A", ["2"]), ("2", "B", ["3", "1"]), ("3", "C", ["1"])])
    assert [p.message for p in found] == ["dependency cycle: 1 -> 2 -> 1"]


def test_long_chain_cycle_does_not_overflow() -> None:
    n = 5000
    patches = [(str(i), f"T{i}", [str(i + 1 if i < n else 1)]) for i in range(1, n + 1)]
    [problem] = md_problems(patches)
    assert problem.message.startswith("dependency cycle: 1 -> 2 -> 3")
    assert problem.message.endswith(f"-> {n} -> 1")


def test_self_dependency() -> None:
    [problem] = md_problems([("1", "A", ["1"])])
    assert problem.message == "task '1' depends on itself"
    assert problem.line == 5  # the graph line that says so


def test_every_problem_is_reported_in_line_order() -> None:
    found = md_problems(
        [
            ("1", "A", ["7"]),  # unknown dep
            ("1", "Again", []),  # duplicate id
            ("../x", "Hostile", []),  # invalid id
            ("4", "", ["4"]),  # no title, self dep
        ]
    )
    messages = [p.message for p in found]
    assert messages == [
        "duplicate task id '1' (first declared at line 3)",
        "invalid task id '../x': it contains '..', which git does not allow in a branch name",
        "task '4' has no title",
        "task '1' depends on unknown task '7'",
        "patch '1' has two dependency lines (first at line 8)",
        "task '4' depends on itself",
    ]
    assert [p.line for p in found] == sorted(p.line for p in found)
    assert all(p.hint for p in found)


def test_unknown_dependency_suggests_a_close_id() -> None:
    [problem] = json_problems([("auth-1", "A", []), ("auth-2", "B", ["auth-01"])])
    assert "did you mean 'auth-1'?" in problem.hint


def test_same_rules_in_json() -> None:
    found = json_problems([("1", "A", ["3"]), ("2", "B", ["1"]), ("3", "C", ["2"])])
    assert [p.message for p in found] == ["dependency cycle: 1 -> 3 -> 2 -> 1"]
    assert found[0].line == 4  # the first patch object


@pytest.mark.parametrize("bad", ["-x", ".x", "a..b", "a.", "a b", "a;rm", "x" * 65])
def test_hostile_ids_are_rejected(bad: str) -> None:
    found = json_problems([(bad, "A", [])])
    assert any("invalid task id" in p.message for p in found)
    assert any("e.g. 1, 2a, auth-1" in p.hint for p in found)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("a.lock", "ends with '.lock'"),
        ("A.lock", "ends with '.lock'"),
        ("a..b", "contains '..'"),
        ("a.", "ends with '.'"),
        ("a@{1}", "contains '@{'"),
        ("a\x01b", "contains a control character (U+0001)"),
        ("a~1", "contains '~'"),
        ("a/b", "contains '/'"),
        ("a+b", "contains '+'"),
        ("_a", "starts with '_'"),
    ],
)
def test_an_id_git_cannot_take_is_refused_with_the_rule_it_breaks(bad: str, rule: str) -> None:
    # (a control character is also reported as a character the plan may not hold)
    [problem] = [p for p in json_problems([(bad, "A", [])]) if "task id" in p.message]
    assert problem.message.startswith(f"invalid task id {bad!r}: it {rule}")
    assert problem.line == 4  # the patch object


def test_an_id_git_cannot_take_is_refused_in_markdown_at_its_header() -> None:
    found = md_problems([("1", "A", []), ("x.lock", "B", ["1"])])
    assert (found[0].line, found[0].message) == (
        4,
        "invalid task id 'x.lock': it ends with '.lock', which git keeps for its lock files",
    )


def test_repeated_dependency_is_kept_once() -> None:
    plan = parse_markdown(md_plan([("1", "A", []), ("2", "B", ["1", "1"])]), "p.md")
    assert plan.task("2").depends_on == ("1",)


def test_error_summary_counts_the_rest() -> None:
    with pytest.raises(PlanError) as info:
        parse_markdown(md_plan([("1", "", ["x"]), ("2", "", ["y"])]), "plan.md")
    assert "(and 3 more)" in str(info.value)
    assert info.value.render_all().count("plan.md:") == 4
