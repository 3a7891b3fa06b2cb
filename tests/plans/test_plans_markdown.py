"""Markdown gameplans: the format, and each rule with a small plan."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from plait.errors import PlanError, PlanProblem
from plait.plans import parse_markdown

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse_markdown(md(text), "plan.md")
    return list(info.value.problems)


def test_realistic_plan_with_fan_out_and_fan_in() -> None:
    text = (FIXTURES / "session_auth.md").read_text()
    plan = parse_markdown(text, "session_auth.md")
    assert plan.title == "Session Auth"
    assert plan.name == "session-auth"
    assert plan.source == "session_auth.md"
    assert plan.ids == ("1", "2", "3", "4", "5", "6", "7", "8")
    deps = {t.id: t.depends_on for t in plan.tasks}
    assert deps == {
        "1": (),
        "2": ("1",),
        "3": ("1",),
        "4": ("2", "3"),
        "5": ("3",),
        "6": ("2", "3"),
        "7": ("4", "5", "6"),
        "8": ("7",),
    }
    classes = [t.task_class for t in plan.tasks]
    assert classes == ["INFRA", "INFRA", "GATED", "BEHAVIOR", *["BEHAVIOR"] * 3, "INFRA"]
    two = plan.task("2")
    assert two.title == "Session store on SQLite"
    assert "#### Notes" in two.description  # deeper headers stay in the body
    assert "tombstone" in two.description
    one = plan.task("1")
    assert "# default lifetime" in one.description  # a '#' inside a code fence is code
    assert (
        one.line
        == text.split("\n").index(
            "### Patch 1 [INFRA]: Settings for session lifetime and signing keys"
        )
        + 1
    )


def test_context_keeps_prose_sections_but_not_patches_or_graph() -> None:
    plan = parse_markdown((FIXTURES / "session_auth.md").read_text(), "p.md")
    assert "## Problem Statement" in plan.context
    assert "accept expired sessions" in plan.context
    assert "## Opinions" in plan.context
    assert "Replace the ad-hoc cookie checks" in plan.context
    assert "### Patch" not in plan.context
    assert "Patch 1 [INFRA] ->" not in plan.context


def test_plain_title_and_missing_class() -> None:
    plan = parse_markdown(
        md("""
        # Tidy the CLI
        ## Patches
        ### Patch a-1: First
        ### Patch a-2: Second
        ## Dependency Graph
        - Patch a-2 -> [a-1]
        """),
        "p.md",
    )
    assert plan.title == "Tidy the CLI"
    assert [(t.id, t.task_class, t.depends_on) for t in plan.tasks] == [
        ("a-1", None, ()),
        ("a-2", None, ("a-1",)),
    ]


def test_class_is_case_insensitive_and_graph_class_fills_a_missing_one() -> None:
    plan = parse_markdown(
        md("""
        # T
        ### Patch 1 [gated]: One
        ### Patch 2: Two
        ## Dependency Graph
        - Patch 2 [Behavior] -> [1]
        """),
        "p.md",
    )
    assert [t.task_class for t in plan.tasks] == ["GATED", "BEHAVIOR"]


def test_unknown_class_names_the_known_ones() -> None:
    [problem] = problems("""
        # T
        ### Patch 1 [REFACTOR]: One
        """)
    assert problem.line == 2
    assert "REFACTOR" in problem.message
    assert "INFRA" in problem.hint
    assert "BEHAVIOR" in problem.hint


def test_header_and_graph_classes_must_agree() -> None:
    [problem] = problems("""
        # T
        ### Patch 1 [INFRA]: One
        ## Dependency Graph
        - Patch 1 [GATED] -> []
        """)
    assert problem.line == 4
    assert "INFRA" in problem.message
    assert "GATED" in problem.message


def test_depends_on_line_in_body() -> None:
    plan = parse_markdown(
        md("""
        # T
        ### Patch 1: One
        ### Patch 2: Two
        **Depends on:** 1
        ### Patch 3: Three
        Depends on: none
        """),
        "p.md",
    )
    assert [t.depends_on for t in plan.tasks] == [(), ("1",), ()]


def test_depends_on_agreeing_with_graph_is_fine() -> None:
    plan = parse_markdown(
        md("""
        # T
        ### Patch 1: One
        ### Patch 2: Two
        Depends on: 1
        ## Dependency Graph
        - Patch 2 -> [1]
        """),
        "p.md",
    )
    assert plan.task("2").depends_on == ("1",)


def test_depends_on_disagreeing_with_graph_is_an_error() -> None:
    [problem] = problems("""
        # T
        ### Patch 1: One
        ### Patch 2: Two
        ### Patch 3: Three
        Depends on: 1
        ## Dependency Graph
        - Patch 3 -> [1, 2]
        """)
    assert problem.line == 5
    assert "Depends on" in problem.message
    assert "'2'" in problem.message


def test_graph_line_for_unknown_patch_suggests_a_close_id() -> None:
    [problem] = problems("""
        # T
        ### Patch auth-1: One
        ## Dependency Graph
        - Patch auth-l -> []
        """)
    assert problem.line == 4
    assert "auth-l" in problem.message
    assert "did you mean 'auth-1'" in problem.hint


def test_two_graph_lines_for_one_patch() -> None:
    [problem] = problems("""
        # T
        ### Patch 1: One
        ## Dependency Graph
        - Patch 1 -> []
        - Patch 1 -> []
        """)
    assert problem.line == 5
    assert "line 4" in problem.message


def test_unreadable_graph_line_is_reported_and_prose_is_ignored() -> None:
    [problem] = problems("""
        # T
        ### Patch 1: One
        ### Patch 2: Two
        ## Dependency Graph
        Patches are listed in order.
        - Patch 2 needs 1
        """)
    assert problem.line == 6
    assert "'- Patch <id> [CLASS] -> [a, b]'" in problem.hint


def test_graph_deps_accept_loose_spellings() -> None:
    plan = parse_markdown(
        md("""
        # T
        ### Patch 1: One
        ### Patch 2: Two
        ### Patch 3: Three
        ## Dependency Graph
        * Patch 3 → Patch 1, Patch 2
        - Patch 2 -> 1
        """),
        "p.md",
    )
    assert plan.task("3").depends_on == ("1", "2")
    assert plan.task("2").depends_on == ("1",)


def test_a_non_patch_header_in_patches_section() -> None:
    [problem] = problems("""
        # T
        ## Patches
        ### Patch 1: One
        ### Patch2: Two
        """)
    assert problem.line == 4
    assert "### Patch <id> [CLASS]: <title>" in problem.hint


def test_open_questions_must_be_resolved() -> None:
    found = problems("""
        # T
        ### Patch 1: One
        ## Open Questions
        - Should tokens expire?
          - sub-point, part of the question above
        - [x] Which hash? (answered: SHA-256)
        - ~~Use Redis?~~
        * Who owns the migration?
        """)
    assert [p.line for p in found] == [4, 8]
    assert all("open questions must be resolved before running" in p.message for p in found)


@pytest.mark.parametrize("answer", ["- None", "- none.", "- N/A", "* _None_", "None yet.", ""])
def test_open_questions_that_say_none(answer: str) -> None:
    plan = parse_markdown(f"# T\n### Patch 1: One\n## Open Questions\n{answer}\n", "p.md")
    assert plan.ids == ("1",)


def test_missing_title_and_patch_title() -> None:
    found = problems("""
        ## Patches
        ### Patch 1:
        """)
    assert [(p.line, p.message) for p in found] == [
        (1, "the plan has no title"),
        (2, "task '1' has no title"),
    ]
    assert "# <title>" in found[0].hint


def test_header_trailing_hashes_are_not_part_of_the_title() -> None:
    plan = parse_markdown("# Use C# ##\n### Patch 1: Port to C# #\n", "p.md")
    assert plan.title == "Use C#"
    assert plan.task("1").title == "Port to C#"


def test_crlf_line_endings() -> None:
    text = "# T\r\n### Patch 1: One\r\n### Patch 2: Two\r\nDepends on: 1\r\n"
    plan = parse_markdown(text, "p.md")
    assert plan.task("2").depends_on == ("1",)
    assert plan.task("2").line == 3
