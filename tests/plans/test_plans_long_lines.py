"""Plans parse in time linear in their size, however long one line is.

A backtracking pattern can turn one long line (`# a` + 25,000 spaces + `b`) into seconds of
work. Each example here puts one long line built from the characters the patterns care
about into a valid plan, at a place each pattern reads, and compares the parse time with
that of a normal plan of about the same size, measured in the same test. Only a ratio is
asserted: the machine's speed cancels out.
"""

from __future__ import annotations

import contextlib
import functools
import json
import pathlib
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plait.errors import PlanError
from plait.plans import parse_json, parse_markdown

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
FIXTURE = (FIXTURES / "session_auth.md").read_text()
JSON_FIXTURE = (FIXTURES / "session_auth.json").read_text()
LENGTH = 20_000  # quadratic parsing took seconds here, linear takes a millisecond or two
# A long line may cost several normal lines' worth of work per character and the machine
# is shared; a quadratic pattern is hundreds of times over this.
BUDGET = 10.0

PREFIXES = [
    "# a", "## ", "### Patch 1", "### Patch 9 [INFRA]", "- Patch 1", "- **Patch 1**",
    "* patch #2 [GATED]", "Depends on:", "- [ ]", "1. ", "   ", "", "```", "~~",
]  # fmt: skip
PIECES = [
    " ", "\t", "#", "-", "*", "[", "]", "->", "→", "=>", ":", "`", "~", "**", "a", "1", ",",
    "patch ", "depends on:", "[INFRA]",
]  # fmt: skip
SUFFIXES = ["", "b", "#", " #", "-> [1]", "-> []", "[", "]", "x", ":", "**"]
SECTIONS = ["title", "## Patches", "## Dependency Graph", "## Open Questions", "## Notes"]


# A long line as (prefix, repeated unit, suffix), so a failing example prints short.
recipes = st.tuples(
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join),
    st.sampled_from(SUFFIXES),
)


def long_line(prefix: str, unit: str, suffix: str) -> str:
    return prefix + (unit * (LENGTH // len(unit) + 1))[:LENGTH] + suffix


def plan_with(line: str, section: str) -> str:
    if section == "title":
        return line + "\n" + FIXTURE.split("\n", 1)[1]
    head, found, tail = FIXTURE.partition(section + "\n")
    if not found:
        return FIXTURE + f"\n{section}\n\n{line}\n"
    return head + found + line + "\n" + tail


def normal_plan(size: int) -> str:
    """The fixture's patches repeated under new ids until the plan is `size` characters."""
    head, _, patches = FIXTURE.partition("### Patch 1")
    patches = "### Patch 1" + patches.split("## Dependency Graph")[0]
    out = [head]
    n = 0
    while sum(map(len, out)) < size:
        n += 1
        out.append(patches.replace("Patch ", f"Patch {n}-"))
    return "".join(out)


def fastest(parse: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(PlanError):
            parse()
        best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def normal_cost() -> float:
    text = normal_plan(len(FIXTURE) + LENGTH)
    return fastest(lambda: parse_markdown(text, "normal.md"), runs=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes, st.sampled_from(SECTIONS))
def test_a_long_line_costs_what_a_normal_plan_of_its_size_costs(
    recipe: tuple[str, str, str], section: str
) -> None:
    line = long_line(*recipe)
    text = plan_with(line, section)
    cost = fastest(lambda: parse_markdown(text, "long.md"))
    assert cost <= BUDGET * normal_cost(), (
        f"{cost:.4f}s for a {len(line):,}-character line under {section!r}, "
        f"{normal_cost():.4f}s for a normal plan of the same size"
    )


def test_the_reported_long_lines_parse() -> None:
    """The two lines from the report, now fast enough to read back normally."""
    header = "# a" + " " * 25_000 + "b\n### Patch 1: One\n"
    assert parse_markdown(header, "p.md").title == "a" + " " * 25_000 + "b"
    graph = "# T\n### Patch 1: One\n## Dependency Graph\n- Patch 1" + " " * 30_000 + "-> []\n"
    assert parse_markdown(graph, "p.md").task("1").depends_on == ()


def test_a_problem_quotes_at_most_a_few_hundred_characters_of_a_long_line() -> None:
    text = "# T\n## Patches\n### Not a patch" + "x" * 100_000 + "\n### Patch 1: One\n"
    with pytest.raises(PlanError) as info:
        parse_markdown(text, "p.md")
    [problem] = info.value.problems
    assert problem.message.startswith("not a patch header: ### Not a patch")
    assert len(problem.message) <= 300


# JSON: the same, with the characters the JSON reader and its pre-scans care about, placed
# inside a string value or as raw text (most of those are syntax errors, found just as fast).
JSON_PIECES = [
    " ", "\\", '\\"', '"', "[", "]", "{", "}", ",", ":", "a", "1", "\\u0000", "\\ud800",
    "\\ud83d\\ude00", "\\n", "\n",
]  # fmt: skip
JSON_PLACES = ['"title": "', '"spec": ', '"spec": [', '"spec": "', "", "after the document"]
json_recipes = st.tuples(
    st.sampled_from(JSON_PLACES),
    st.lists(st.sampled_from(JSON_PIECES), min_size=1, max_size=3).map("".join),
    st.sampled_from(['"', "]", "", '"]', "}"]),
)


def json_plan_with(place: str, unit: str, end: str) -> str:
    if place == "after the document":
        return JSON_FIXTURE + long_line("", unit, end)
    head, found, tail = JSON_FIXTURE.partition('"title": ')
    assert found
    return head + place + long_line("", unit, end) + ", " + found + tail


@functools.cache
def normal_json_cost() -> float:
    doc = json.loads(JSON_FIXTURE)
    patches = doc["patches"]
    while len(json.dumps(doc, indent=2)) < len(JSON_FIXTURE) + LENGTH:
        doc["patches"] = doc["patches"] + [
            {**p, "number": len(doc["patches"]) + i + 1} for i, p in enumerate(patches)
        ]
    text = json.dumps(doc, indent=2)
    return fastest(lambda: parse_json(text, "normal.json"), runs=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_recipes)
@example(("after the document", '\\"', ""))  # an unterminated string of escaped quotes
def test_a_long_json_line_costs_what_a_normal_plan_of_its_size_costs(
    recipe: tuple[str, str, str],
) -> None:
    text = json_plan_with(*recipe)
    cost = fastest(lambda: parse_json(text, "long.json"))
    assert cost <= BUDGET * normal_json_cost(), (
        f"{cost:.4f}s with a {LENGTH:,}-character line, "
        f"{normal_json_cost():.4f}s for a normal plan of the same size"
    )
